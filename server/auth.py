"""Who is calling the server, and what they may see (langgraph.json ``auth.path``).

Two modes, chosen by the server's environment at start:

- **Single-user local mode** (no API keys configured, the default): every request is the
  local user (``$MEMGPT_USER_ID`` or ``default``) and may do everything, so ``langgraph dev``,
  Studio and ``curl`` work without a key, as before.
- **Multi-user mode**: ``MEMGPT_API_KEYS="key-a:alice,key-b:bob"`` (or ``MEMGPT_API_KEYS_FILE``,
  one ``key:user`` a line, ``#`` comments) maps API keys to users. A request must carry its key
  as ``Authorization: Bearer <key>`` (what OpenAI clients send) or ``X-Api-Key: <key>`` (what
  the LangGraph SDK sends); without a known key it gets a 401. The user is then bound to their
  own data:

  - threads (and their runs, state, history, copies) carry ``metadata.owner`` = the user, set
    here on create and enforced as a filter on every read, search, update, delete and run, so
    another user's thread id answers 404;
  - another configured user's conversation thread id (``user_thread_id``) cannot be created
    ahead of them;
  - the store is limited to the user's archive, ``("archival", user, ...)``: searches and
    listings with a shorter prefix are narrowed to it, anything else is a 403;
  - runs search the archive of the authenticated user whatever ``user_id`` their context
    names (``tools/archival.py`` reads the identity the server puts into the run's config);
  - the HTTP API (``server/``) takes the user from the key, never from a body field or header
    (``"http": {"enable_custom_route_auth": true}`` puts these routes behind this handler).

  LangGraph's Studio shortcut (``x-auth-scheme: langsmith``) is refused in multi-user mode
  under ``langgraph dev``, where it is a header anyone can send; on LangGraph Platform it is a
  LangSmith-verified member of the deployment's workspace and is let through.

What a user id may be and which conversation thread a user has (``user_thread_id``) are
defined here: this handler reserves those thread ids, and ``server/backend.py``, which
creates them, imports this module (never the other way round).
"""

from __future__ import annotations

import hmac
import os
import re
import uuid
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.memory.archive import AUTH_USER_PERMISSION
from langgraph_sdk import Auth
from langgraph_sdk.auth import is_studio_user

KEYS_ENV = "MEMGPT_API_KEYS"
KEYS_FILE_ENV = "MEMGPT_API_KEYS_FILE"
LOCAL_PERMISSION = "memgpt:local"
"""Single-user local mode: the request may touch every thread and namespace."""
ARCHIVE_ROOT = "archival"
MIN_KEY_CHARS = 16
GRAPH_ID = "memgpt"
"""The graph langgraph.json registers; also the model name the chat API lists."""
THREAD_NAMESPACE = uuid.UUID("0b5e8f52-4f55-4d39-9a63-6d2f1f3c7a10")
# No dots: LangGraph store namespace labels may not contain them, and the user id is one.
USER_ID_REGEX = r"^[A-Za-z0-9_@:+=-]{1,128}$"
"""What a user id may be. The server checks with ``USER_ID_PATTERN.fullmatch``; the HTTP API's
OpenAPI document declares this very text as the JSON Schema ``pattern`` of every field, query
parameter and header that names a user (anchored: a JSON Schema pattern matches anywhere)."""
USER_ID_PATTERN = re.compile(USER_ID_REGEX)


def user_thread_id(user_id: str) -> str:
    """The id of ``user_id``'s conversation thread (a UUID, as the LangGraph API requires).

    Example:
        ```python
        user_thread_id("ada")  # the same id on every server, every time
        ```
    """
    return str(uuid.uuid5(THREAD_NAMESPACE, f"{GRAPH_ID}:{user_id}"))


class AuthConfigError(ValueError):
    """MEMGPT_API_KEYS / MEMGPT_API_KEYS_FILE cannot be read; the server does not start."""


def parse_api_keys(text: str, origin: str) -> dict[str, str]:
    """``key:user`` entries (comma- or line-separated, ``#`` comments) as {key: user}."""
    keys: dict[str, str] = {}
    entries = [e.strip() for line in text.splitlines() for e in line.split("#")[0].split(",")]
    for entry in filter(None, entries):
        # The user id may itself contain ':' (e.g. 'openwebui:42'): the key is up to the first.
        key, separator, user = entry.partition(":")
        key, user = key.strip(), user.strip()
        if not separator or not key or not user:
            raise AuthConfigError(f"{origin}: entry {entry[:6]!r}... is not 'key:user'")
        if len(key) < MIN_KEY_CHARS:
            raise AuthConfigError(
                f"{origin}: the key of user {user!r} has {len(key)} characters; use at least "
                f"{MIN_KEY_CHARS} (e.g. from secrets.token_urlsafe())"
            )
        if not USER_ID_PATTERN.fullmatch(user):
            raise AuthConfigError(
                f"{origin}: invalid user id {user!r}: use 1-128 letters, digits or _ @ : + = -"
            )
        if key in keys and keys[key] != user:
            raise AuthConfigError(f"{origin}: one key is given to {keys[key]!r} and {user!r}")
        keys[key] = user
    return keys


def load_api_keys(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The configured {API key: user}; empty means single-user local mode."""
    keys = parse_api_keys(environ.get(KEYS_ENV, ""), KEYS_ENV)
    if file := environ.get(KEYS_FILE_ENV, "").strip():
        try:
            text = Path(file).expanduser().read_text()
        except OSError as error:
            raise AuthConfigError(f"{KEYS_FILE_ENV}: cannot read {file}: {error}") from None
        for key, user in parse_api_keys(text, f"{KEYS_FILE_ENV} ({file})").items():
            if keys.get(key, user) != user:
                raise AuthConfigError(f"{KEYS_FILE_ENV}: one key is given to two users")
            keys[key] = user
    return keys


@cache
def api_keys() -> dict[str, str]:
    """The server's keys, read once (a restart picks up changes)."""
    return load_api_keys()


def multi_user() -> bool:
    return bool(api_keys())


def local_user() -> str:
    return Context().user_id


def _under_langgraph_dev() -> bool:
    # langgraph dev's Studio backend trusts the x-auth-scheme header without any check.
    return os.environ.get("LANGSMITH_LANGGRAPH_API_VARIANT") == "local_dev"


def user_for_key(key: str) -> str | None:
    """The user of ``key``; compared in constant time against every configured key."""
    found = None
    for known, user in api_keys().items():
        if hmac.compare_digest(known.encode(), key.encode()):
            found = user
    return found


auth = Auth()


def _presented_key(authorization: str | None, headers: Mapping[bytes, bytes]) -> str | None:
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    raw = headers.get(b"x-api-key")
    return raw.decode("latin-1").strip() or None if raw else None


@auth.authenticate
async def authenticate(
    authorization: str | None, headers: dict[bytes, bytes]
) -> Auth.types.MinimalUserDict:
    """The caller: the user of their API key, or the local user when no keys are set up."""
    if not multi_user():
        user = local_user()
        return {"identity": user, "display_name": user, "permissions": [LOCAL_PERMISSION]}
    key = _presented_key(authorization, headers)
    if key is None:
        raise Auth.exceptions.HTTPException(
            status_code=401,
            detail="this server has several users: send your API key as "
            "'Authorization: Bearer <key>' or 'X-Api-Key: <key>'",
        )
    user = user_for_key(key)
    if user is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="unknown API key")
    return {"identity": user, "display_name": user, "permissions": [AUTH_USER_PERMISSION]}


def bound_user(ctx: Auth.types.AuthContext) -> str | None:
    """The user a request is confined to, or None when it may touch everything."""
    if AUTH_USER_PERMISSION in ctx.permissions and multi_user():
        return ctx.user.identity
    if not multi_user():
        return None  # single-user local mode (Studio's requests included)
    if is_studio_user(ctx.user) and not _under_langgraph_dev():
        return None  # a LangSmith-verified workspace member on LangGraph Platform
    raise Auth.exceptions.HTTPException(status_code=403, detail="not allowed without an API key")


def _conversation_thread_of_another(thread_id: Any, user: str) -> str | None:
    """The configured user (not ``user``) whose HTTP-API conversation thread is ``thread_id``."""
    wanted = str(thread_id)
    return next(
        (u for u in set(api_keys().values()) if u != user and user_thread_id(u) == wanted), None
    )


def _stamp_owner(value: dict[str, Any], owner: str) -> None:
    # Overwritten: a client cannot hand its thread (or run) to another user. In place: the
    # server keeps using the metadata dict it passed in, not the value's key.
    metadata = value.get("metadata")
    if isinstance(metadata, dict):
        metadata["owner"] = owner
    else:
        value["metadata"] = {"owner": owner}


def _bind_run(value: dict[str, Any], owner: str) -> None:
    """Make a run's context (and configurable) name its owner as the user, whatever the client
    or an assistant put there, so everything the graph derives from ``user_id`` (the archive,
    its passage count in the prompt) is the caller's own."""
    kwargs = value.get("kwargs")
    if not isinstance(kwargs, dict):
        return
    context = kwargs.get("context")
    kwargs["context"] = {**(context if isinstance(context, dict) else {}), "user_id": owner}
    config = kwargs.get("config")
    configurable = config.get("configurable") if isinstance(config, dict) else None
    if isinstance(configurable, dict):
        configurable["user_id"] = owner


def _refuse_foreign_consolidation(value: dict[str, Any], owner: str) -> None:
    """A key-authenticated user consolidates their own conversation thread only.

    The ``consolidate`` graph reads the thread named in its input (``{"thread_id": ...}``)
    straight from the checkpointer, past the thread filter above; binding the run to its
    owner decides whose memory it writes, not whose history it reads. So a run (or cron)
    whose input names a thread must name the caller's own.
    """
    kwargs = value.get("kwargs") if isinstance(value.get("kwargs"), dict) else {}
    payload = value.get("payload") if isinstance(value.get("payload"), dict) else {}
    for candidate in (kwargs.get("input"), payload.get("input"), value.get("input")):
        named = candidate.get("thread_id") if isinstance(candidate, dict) else None
        if named is not None and str(named) != user_thread_id(owner):
            raise Auth.exceptions.HTTPException(
                status_code=403,
                detail="a consolidation may only read your own conversation thread "
                f"({user_thread_id(owner)})",
            )


@auth.on.threads
async def threads(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType | None:
    """Threads and their runs: stamped with the owner, visible to the owner only."""
    owner = bound_user(ctx)
    if owner is None:
        return None
    # A run may create its thread too (if_not_exists="create").
    creates = ctx.action in ("create", "create_run") and value.get("thread_id") is not None
    if creates and _conversation_thread_of_another(value["thread_id"], owner):
        raise Auth.exceptions.HTTPException(
            status_code=403, detail="this thread id is reserved for another user's conversation"
        )
    if ctx.action in ("create", "update", "create_run"):
        _stamp_owner(value, owner)
    if ctx.action == "create_run":
        _refuse_foreign_consolidation(value, owner)
        _bind_run(value, owner)
    return {"owner": owner}


@auth.on.crons
async def crons(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType | None:
    owner = bound_user(ctx)
    if owner is None:
        return None
    if ctx.action in ("create", "update"):
        _refuse_foreign_consolidation(value, owner)
        _stamp_owner(value, owner)
    return {"owner": owner}


@auth.on.assistants
async def assistants(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType | None:
    """Assistants hold configuration, not memory: all may read them (the graph's default
    assistant has no owner); only their creator may change or delete one."""
    owner = bound_user(ctx)
    if owner is None or ctx.action in ("read", "search"):
        return None
    if ctx.action in ("create", "update"):
        _stamp_owner(value, owner)
    return {"owner": owner}


@auth.on.store()
async def store(ctx: Auth.types.AuthContext, value: Any) -> None:
    """The store through the API: the user's own archive, ``("archival", user, ...)``, only."""
    owner = bound_user(ctx)
    if owner is None:
        return
    space = (ARCHIVE_ROOT, owner)
    namespace = tuple(value.get("namespace") or ())
    if namespace[:2] == space:
        return
    if ctx.action in ("search", "list_namespaces") and space[: len(namespace)] == namespace:
        value["namespace"] = space  # "everything" for this user means their archive
        return
    raise Auth.exceptions.HTTPException(
        status_code=403, detail=f"only your own archive ({'.'.join(space)}) is accessible"
    )


@auth.on
async def anything_else(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType | None:
    """Resources without a handler above: owner-stamped and owner-filtered like threads."""
    owner = bound_user(ctx)
    if owner is None:
        return None
    if isinstance(value, dict) and ctx.action in ("create", "update"):
        _stamp_owner(value, owner)
    return {"owner": owner}


__all__ = [
    "GRAPH_ID",
    "LOCAL_PERMISSION",
    "USER_ID_PATTERN",
    "USER_ID_REGEX",
    "api_keys",
    "auth",
    "load_api_keys",
    "local_user",
    "multi_user",
    "user_thread_id",
]
