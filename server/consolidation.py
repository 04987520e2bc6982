"""``POST /memory/consolidate``: tidy the caller's memory now, as the nightly cron would.

The route runs the ``consolidate`` graph (``graph/consolidate.py``, registered in
langgraph.json) as a stateless run of the server, on the caller's conversation thread and for
the caller only: the user comes from the API key when the server has keys (``resolve_user``),
and the run's identity binds the archive and the knowledge graph it writes to that user
(``server/auth.py`` refuses a consolidation of another user's thread). It answers with the
run's report: messages read, facts stored, duplicates, entities, relations, block edits and
notes. A user whose agent is answering right now gets a 409: the block edit would race it.
"""

from __future__ import annotations

from typing import Any

from langgraph_memgpt.graph.consolidate import NAME as CONSOLIDATE_GRAPH
from langgraph_memgpt.graph.consolidate import report
from langgraph_memgpt.server.backend import (
    graph_client,
    refuse_if_busy,
    resolve_user,
    user_context,
    user_thread,
    user_thread_id,
)
from langgraph_memgpt.server.errors import ApiError, parse_json_body
from langgraph_memgpt.server.openapi import documented
from langgraph_memgpt.server.schemas import ConsolidateRequest, ConsolidateResponse
from starlette.requests import Request
from starlette.responses import JSONResponse


@documented(
    "Consolidate the user's memory now",
    request=ConsolidateRequest,
    response=ConsolidateResponse,
    errors={400: "Invalid request", 409: "The agent is answering this user right now"},
)
async def memory_consolidate(request: Request) -> JSONResponse:
    """Store the lasting facts, entities and relations of the user's conversation since the
    last consolidation, and tidy the ``human`` block (the ``consolidate`` graph)."""
    payload = await parse_json_body(request, ConsolidateRequest)
    user_id = resolve_user(request, payload.user)
    client = graph_client()
    thread_id = user_thread_id(user_id)
    if await user_thread(client, user_id) is None:
        body = ConsolidateResponse(user=user_id, thread_id=thread_id, messages=0)
        return JSONResponse(body.model_dump())
    await refuse_if_busy(client, user_id)
    values: Any = await client.runs.wait(
        None,
        CONSOLIDATE_GRAPH,
        input={"thread_id": thread_id},
        context={"user_id": user_id},
    )
    if not isinstance(values, dict) or "__error__" in values:
        error = (values or {}).get("__error__") if isinstance(values, dict) else values
        raise ApiError(500, f"the consolidation run failed: {error}", type="server_error")
    done = report(values, thread_id, user_context(user_id))
    body = ConsolidateResponse(user=user_id, **{k: v for k, v in done.items() if k != "user_id"})
    return JSONResponse(body.model_dump())
