"""How the HTTP API reaches the agent: the LangGraph server's own client, store and checkpointer.

Threads, runs and thread state go through the in-process ``langgraph_sdk`` client
(``get_client()`` without a URL, which calls the server it runs in without a network hop).
That keeps the API a client of the server like Studio is: the same code works under
``langgraph dev`` (our SQLite files) and on LangGraph Platform (its PostgreSQL checkpointer
and store), and runs go through the server's queue and multitask rules instead of around
them.

Archival memory and ``/status`` need the store and checkpointer *objects* (our keyword search
and counts, the recall log), which the SDK's HTTP surface does not offer; they come from
langgraph-api, which injects these very instances into every graph run. Both look-ups use
langgraph-api internals, so they are in ``_compat.py`` with the package's other ones.

Each user has one conversation thread, with a thread id derived from the user id
(``user_thread_id``, defined in ``server/auth.py``, which reserves these ids), created by
the first request that needs it. Who the user is: ``resolve_user`` (the API key's user when
``server/auth.py`` has keys, else the request's user field or header).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from langgraph_memgpt._compat import (
    api_server_checkpointer,
    api_server_store,
    unwrap_server_checkpointer,
)
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.memory.archive import AUTH_USER_PERMISSION
from langgraph_memgpt.server.auth import GRAPH_ID, USER_ID_PATTERN, multi_user, user_thread_id
from langgraph_memgpt.server.errors import ApiError
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError
from starlette.requests import Request

USER_HEADERS = ("x-user-id", "x-openwebui-user-id")
"""Open WebUI sends X-OpenWebUI-User-Id when ENABLE_FORWARD_USER_INFO_HEADERS is on."""


def authenticated_user(request: Request) -> str | None:
    """The key-authenticated user of ``request`` (server/auth.py), if the server has one.

    Set by the server's auth middleware, which covers these routes when langgraph.json has
    ``"http": {"enable_custom_route_auth": true}``.
    """
    credentials = request.scope.get("auth")
    user = request.scope.get("user")
    if credentials is None or user is None:
        return None
    if AUTH_USER_PERMISSION not in (getattr(credentials, "scopes", None) or ()):
        return None
    identity = getattr(user, "identity", None)
    return identity if isinstance(identity, str) and identity else None


def resolve_user(request: Request, given: str | None = None) -> str:
    """The user a request is for.

    With API keys configured (``MEMGPT_API_KEYS``): the key's user, always; a body field, query
    or header naming someone else is refused (403), a request without a valid key gets a 401.
    Without keys (single-user local mode): ``given`` (a body or query field) or the X-User-Id
    header, else the server's configured user (``$MEMGPT_USER_ID`` or ``default``), so a
    single-user set-up needs no header.
    """
    header = next((request.headers[h] for h in USER_HEADERS if request.headers.get(h)), None)
    if multi_user():
        return _key_user(request, given, header)
    if given is not None and header is not None and given != header:
        raise ApiError(
            400,
            f"the request names two users: '{given}' in the body or query and '{header}' in "
            "the X-User-Id header",
            param="user",
        )
    user = given if given is not None else header
    if user is None:
        return Context().user_id
    if not USER_ID_PATTERN.fullmatch(user):
        raise ApiError(
            400,
            f"invalid user id {user!r}: use 1-128 letters, digits or _ @ : + = - (no dots or "
            "spaces)",
            param="user",
        )
    return user


def _key_user(request: Request, given: str | None, header: str | None) -> str:
    user = authenticated_user(request)
    if user is None:
        # Also the answer when langgraph.json lacks enable_custom_route_auth: fail closed.
        raise ApiError(
            401,
            "this server has several users: send your API key as 'Authorization: Bearer <key>'",
            type="authentication_error",
        )
    for named in (given, header):
        if named is not None and named != user:
            raise ApiError(
                403,
                f"your API key is for user '{user}'; it cannot read or change the memory of "
                f"'{named}' (leave out the user field and X-User-Id header)",
                type="permission_error",
                param="user",
            )
    return user


def user_context(user_id: str) -> Context:
    """The agent's configuration (from the server's environment) for ``user_id``."""
    return Context(user_id=user_id)


@cache
def graph_client() -> LangGraphClient:
    """The in-process SDK client (created at first use, once the server is up)."""
    return get_client()


async def existing_thread(client: LangGraphClient, thread_id: str) -> dict[str, Any] | None:
    try:
        return dict(await client.threads.get(thread_id))
    except NotFoundError:
        return None


def check_owner(thread: dict[str, Any] | None, user_id: str) -> dict[str, Any] | None:
    """``thread`` if it is ``user_id``'s (or None); a 409 if another user's thread has the id.

    Our thread ids are derived from user ids, so a thread someone else created with that id
    beforehand must never become this user's conversation (server/auth.py also refuses to
    create it for a configured user).
    """
    if thread is None:
        return None
    metadata = thread.get("metadata") or {}
    owners = {metadata.get("owner"), metadata.get("user_id")} - {None}
    if owners and owners != {user_id}:
        raise ApiError(
            409,
            f"the conversation thread id of user '{user_id}' is taken by another user's thread",
            type="conflict",
        )
    return thread


async def user_thread(client: LangGraphClient, user_id: str) -> dict[str, Any] | None:
    """``user_id``'s conversation thread, or None before their first message."""
    return check_owner(await existing_thread(client, user_thread_id(user_id)), user_id)


async def ensure_user_thread(client: LangGraphClient, user_id: str) -> str:
    """``user_id``'s thread id, creating the thread if it does not exist yet."""
    thread_id = user_thread_id(user_id)
    thread = await client.threads.create(
        thread_id=thread_id,
        if_exists="do_nothing",
        graph_id=GRAPH_ID,
        # owner: the metadata server/auth.py filters threads by, so with API keys the user
        # sees this thread in /threads (and Studio) and nobody else does.
        metadata={"user_id": user_id, "owner": user_id, "created_by": "langgraph-memgpt http api"},
    )
    check_owner(dict(thread), user_id)
    return thread_id


async def refuse_if_busy(client: LangGraphClient, user_id: str) -> None:
    """A 409 while a run is writing to the user's thread (its state would change underneath)."""
    thread = await user_thread(client, user_id)
    if thread is not None and thread.get("status") == "busy":
        raise ApiError(
            409,
            "the agent is still answering this user's previous message; try again when it "
            "has finished",
            type="conflict",
        )


def _outside_server() -> ApiError:
    return ApiError(
        503,
        "this endpoint needs the LangGraph server (langgraph dev or LangGraph Platform) "
        "that serves the memgpt graph",
        type="server_error",
    )


async def server_store() -> BaseStore:
    """The store the server gives graph runs (our archive locally, the platform's deployed)."""
    store = await api_server_store()
    if store is None:
        raise _outside_server()
    return store


async def server_checkpointer() -> BaseCheckpointSaver:
    """The checkpointer the server gives graph runs."""
    saver = await api_server_checkpointer()
    if saver is None:
        raise _outside_server()
    # A custom checkpointer (ours under langgraph dev) comes wrapped in an adapter; the recall
    # log reads SQLite savers directly with SQL, so hand over the saver itself.
    return unwrap_server_checkpointer(saver)
