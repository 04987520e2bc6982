"""The HTTP API mounted into the LangGraph server (langgraph.json ``http.app``).

Routes (documented in the server's OpenAPI document, at ``/docs``):

- ``POST /v1/chat/completions``, ``GET /v1/models``: OpenAI-compatible chat (Open WebUI);
- ``POST /chat``: one message in, the reply out;
- ``POST /memory/search``, ``POST /memory/add``: archival memory (add: core blocks too);
- ``GET /memory/core``, ``PATCH /memory/core/{label}``: core memory blocks;
- ``POST /memory/consolidate``: the ``consolidate`` graph on the user's thread, now;
- ``GET /status``: model, window, token budget, memory counts, storage.

It runs wherever the graph runs (``langgraph dev``, ``langgraph up``, LangGraph Platform):
the server merges these routes with its own, and the app talks to the graph through the
server's in-process client (see ``backend.py``). With API keys configured, the server's auth
(``auth.py``, langgraph.json ``enable_custom_route_auth``) covers these routes too, and each
request acts for its key's user only.
"""

from __future__ import annotations

from langgraph_memgpt.server.chat import chat_completions, chat_message, list_models
from langgraph_memgpt.server.consolidation import memory_consolidate
from langgraph_memgpt.server.errors import ApiError, api_error_response
from langgraph_memgpt.server.logs import quiet_expected_failures
from langgraph_memgpt.server.memory import (
    memory_add,
    memory_core,
    memory_core_patch,
    memory_search,
    status,
)
from starlette.applications import Starlette
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

quiet_expected_failures()


class ApiRoute(Route):
    """A route that answers a method it does not serve with a 405 and an ``Allow`` header.

    A plain Starlette route only half-matches another method and leaves the answer to the
    router, which gives the 405 only if no other route matches the path. The LangGraph server
    puts these routes before a mount of its own routes at "" that matches every path, so
    ``DELETE /status`` went on into that mount and came back a 404. This route claims its path
    for every method, and refuses the ones it does not serve itself, in the API's error shape.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allowed = ", ".join(sorted(self.methods))
            raise ApiError(
                405,
                f"{scope['method']} is not allowed on {self.path}; use {allowed}",
                headers={"Allow": allowed},
            )
        await super().handle(scope, receive, send)


routes = [
    ApiRoute("/v1/chat/completions", chat_completions, methods=["POST"]),
    ApiRoute("/v1/models", list_models, methods=["GET"]),
    ApiRoute("/chat", chat_message, methods=["POST"]),
    ApiRoute("/memory/search", memory_search, methods=["POST"]),
    ApiRoute("/memory/add", memory_add, methods=["POST"]),
    ApiRoute("/memory/core", memory_core, methods=["GET"]),
    ApiRoute("/memory/core/{label}", memory_core_patch, methods=["PATCH"]),
    ApiRoute("/memory/consolidate", memory_consolidate, methods=["POST"]),
    ApiRoute("/status", status, methods=["GET"]),
]

# The handler is registered for ApiError only: the server adopts this app's handlers for the
# whole server, and its own routes must keep their error format.
app = Starlette(routes=routes, exception_handlers={ApiError: api_error_response})

__all__ = ["app"]
