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
from starlette.routing import Route

quiet_expected_failures()

routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/chat", chat_message, methods=["POST"]),
    Route("/memory/search", memory_search, methods=["POST"]),
    Route("/memory/add", memory_add, methods=["POST"]),
    Route("/memory/core", memory_core, methods=["GET"]),
    Route("/memory/core/{label}", memory_core_patch, methods=["PATCH"]),
    Route("/memory/consolidate", memory_consolidate, methods=["POST"]),
    Route("/status", status, methods=["GET"]),
]

# The handler is registered for ApiError only: the server adopts this app's handlers for the
# whole server, and its own routes must keep their error format.
app = Starlette(routes=routes, exception_handlers={ApiError: api_error_response})

__all__ = ["app"]
