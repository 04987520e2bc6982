"""Schemathesis hooks of the HTTP contract test (loaded by its CLI through SCHEMATHESIS_HOOKS).

The OpenAPI document states every rule of the API that JSON Schema can state. Two rules span
two fields, so JSON Schema cannot; the document says them in words, and the server answers a
request that breaks them with a declared 400:

- a request that names a user in the body or query and in the X-User-Id header names the
  same user in both (``resolve_user``, server/backend.py);
- a search's start bound is before its end bound (``date_range``, search/text.py);
- ``POST /memory/add`` with ``"memory_type": "core"`` takes no ``tags`` or ``source`` (JSON
  Schema could say this one with an ``anyOf`` beside ``properties``, but schemathesis 4.15's
  coverage phase then sends ``{}`` as a valid body: it drops the ``required`` list).

Left alone, schemathesis would send requests whose every field is valid but that break one of
these rules, and count the 400 as "valid data rejected". This hook makes such a request keep
the rules as a client that reads the document would: the header names the body's user, an end
bound not after the start is left out, and so are the tags and source of a core append. It
only touches values that are each valid, so a request schemathesis made invalid on purpose
stays invalid. The rules themselves are checked by test_http_api.py.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import schemathesis
from hypothesis import settings
from langgraph_memgpt.search.text import date_range
from langgraph_memgpt.server.auth import USER_ID_PATTERN

# Hypothesis loads its built-in "ci" profile by itself wherever a CI variable is set, and
# schemathesis lets a loaded profile's non-default settings override its own: that profile's
# suppress_health_check=[too_slow] then replaces the command line's list, and filter_too_much
# fails the chat completion body on CI only. The default profile keeps the run the command
# line describes, on CI as here (the test sets CI to prove it).
settings.load_profile("default")

USER_HEADER = "X-User-Id"
BODY_USER_FIELDS = ("user", "user_id")
BOUNDS = ("start_datetime", "end_datetime")
ARCHIVAL_ONLY = ("tags", "source")


def _user_id(value: Any) -> str | None:
    return value if isinstance(value, str) and USER_ID_PATTERN.fullmatch(value) else None


def named_user(case: Any) -> str | None:
    """The valid user id the case's body or query names, if any."""
    for container in (case.body, case.query):
        if isinstance(container, MutableMapping):
            for field in BODY_USER_FIELDS:
                if (user := _user_id(container.get(field))) is not None:
                    return user
    return None


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    user = named_user(case)
    headers = case.headers if isinstance(case.headers, MutableMapping) else None
    if user is not None and headers is not None:
        header = _user_id(headers.get(USER_HEADER))
        if header is not None and header != user:
            headers[USER_HEADER] = user
    body = case.body
    if isinstance(body, MutableMapping) and body.get("memory_type") == "core":
        tags, source = (body.get(field) for field in ARCHIVAL_ONLY)
        if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
            body["tags"] = None
        if isinstance(source, str):
            body["source"] = None
    if isinstance(body, MutableMapping) and all(isinstance(body.get(name), str) for name in BOUNDS):
        try:
            date_range(body[BOUNDS[0]], None)
            date_range(None, body[BOUNDS[1]])
        except ValueError:
            return case  # a bound that is invalid by itself: left for the server to refuse
        try:
            date_range(body[BOUNDS[0]], body[BOUNDS[1]], BOUNDS)
        except ValueError:
            body[BOUNDS[1]] = None
    return case
