"""``/memory/*`` and ``/status``: a user's memory, read and edited from outside the chat.

- ``POST /memory/search`` and ``POST /memory/add`` work on the user's archival memory through
  the operations the agent's archival tools call (``memory/archive.py``: hybrid keyword +
  semantic ranking, passages split and stored in one batch), on the store the server gives
  graph runs. ``POST /memory/add`` with ``"memory_type": "core"`` appends to a core memory
  block instead, as the block PATCH below writes (``memory_type`` is Seed 001's word; recall
  memory is the conversation itself and has no add).
- ``GET /memory/core`` and ``PATCH /memory/core/{label}`` read and rewrite the core memory
  blocks of the user's thread through the tools' block edits (``memory/blocks.py``): a block
  must exist, be writable and stay within its character limit. The edit is a state update
  of the thread (checkpointed like the agent's own edits, so it shows in Studio and the
  block history).
- ``GET /status``: model, window, token budget, recall and archival counts, storage.

Every check runs before anything is written: a refused request changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import BaseStore, SearchItem
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import Block
from langgraph_memgpt.memory.archive import archive_namespace, insert_passages, search_archive
from langgraph_memgpt.memory.blocks import BlockEditError, append, rethink
from langgraph_memgpt.memory.status import acollect_status
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.search.fusion import display_relevance
from langgraph_memgpt.search.text import date_range
from langgraph_memgpt.server.backend import (
    ensure_user_thread,
    graph_client,
    refuse_if_busy,
    resolve_user,
    server_checkpointer,
    server_store,
    user_context,
    user_thread,
    user_thread_id,
)
from langgraph_memgpt.server.errors import ApiError, parse_json_body
from langgraph_memgpt.server.openapi import (
    USER_HEADER_PARAMETER,
    USER_QUERY_PARAMETER,
    documented,
)
from langgraph_memgpt.server.schemas import (
    CoreBlock,
    CoreBlockPatch,
    CoreMemory,
    MemoryAddRequest,
    MemoryAddResponse,
    MemorySearchRequest,
    MemorySearchResponse,
    Passage,
    Status,
)
from langgraph_sdk.client import LangGraphClient
from starlette.requests import Request
from starlette.responses import JSONResponse

LABEL_PARAMETER = {
    "name": "label",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The block, e.g. 'human' or 'persona'.",
}
DATE_FIELDS = ("start_datetime", "end_datetime")
# How a refused block edit (memory/blocks.py) reads over HTTP: status, error type, and the
# request field at fault.
_EDIT_REFUSALS = {
    "not_found": (404, "not_found"),
    "read_only": (403, "permission_error"),
    "over_limit": (400, "invalid_request_error"),
    "invalid": (400, "invalid_request_error"),
}
_LABEL_PROBLEMS = frozenset({"not_found", "read_only"})
"""Refusals where the label is at fault; in the others it is the text."""
BlockEdit = Callable[[Mapping[str, Block]], dict[str, Block]]
"""A block edit of ``memory/blocks.py`` with its arguments bound: blocks in, changed out."""
# The blocks a thread starts with come from the served graph's agent (langgraph.json's
# langgraph_memgpt.graph:graph, built with the default agent).
SERVED_AGENT = AgentSpec()


def _archive(ctx: Context) -> tuple[str, ...]:
    return archive_namespace(ctx, user_thread_id(ctx.user_id))


def _passage(item: SearchItem, relevance: float) -> Passage:
    return Passage(
        id=item.key,
        content=str(item.value.get("content", "")),
        tags=list(item.value.get("tags") or []),
        created_at=item.created_at.astimezone(UTC).isoformat(timespec="seconds"),
        relevance=round(display_relevance(relevance), 4),
        similarity=round(item.score, 4) if item.score is not None else None,
        source=item.value.get("source"),
    )


def search_user_archive(
    store: BaseStore,
    ctx: Context,
    query: MemorySearchRequest,
    start: datetime | None,
    end: datetime | None,
) -> tuple[int, list[Passage]]:
    """Ranked passages of the user's archive matching the request's filters (blocking)."""
    matches = search_archive(
        store,
        _archive(ctx),
        query.query,
        tags=query.tags,
        tag_match=query.tag_match,
        start=start,
        end=end,
        min_similarity=ctx.archival_min_similarity,
    )
    return len(matches), [_passage(item, relevance) for item, relevance in matches[: query.limit]]


@documented(
    "Search the user's archival memory",
    request=MemorySearchRequest,
    response=MemorySearchResponse,
    errors={400: "Invalid request"},
)
async def memory_search(request: Request) -> JSONResponse:
    """Hybrid keyword + semantic search of the user's archival passages, best first."""
    payload = await parse_json_body(request, MemorySearchRequest)
    user_id = resolve_user(request, payload.user)
    if not payload.query.strip():
        raise ApiError(400, "query is empty; say what to look for", param="query")
    try:
        start, end = date_range(payload.start_datetime, payload.end_datetime, DATE_FIELDS)
    except ValueError as error:
        field = next((name for name in DATE_FIELDS if str(error).startswith(name)), None)
        raise ApiError(400, str(error), param=field) from None
    store = await server_store()
    total, results = await asyncio.to_thread(
        search_user_archive, store, user_context(user_id), payload, start, end
    )
    body = MemorySearchResponse(user=user_id, query=payload.query, total=total, results=results)
    return JSONResponse(body.model_dump())


@documented(
    "Add text to the user's archival memory (or to a core memory block)",
    request=MemoryAddRequest,
    response=MemoryAddResponse,
    status=201,
    errors={
        400: "Invalid request, or over the block's character limit (core)",
        403: "The block is read-only (core)",
        404: "No such block (core)",
        409: "The agent is answering this user right now (core)",
    },
)
async def memory_add(request: Request) -> JSONResponse:
    """Store text as archival passages (long text is split; all passages in one batch), or
    with "memory_type": "core" append it to the block "label" (default 'human')."""
    payload = await parse_json_body(request, MemoryAddRequest)
    user_id = resolve_user(request, payload.user)
    if not payload.content.strip():
        raise ApiError(400, "content is empty; nothing to store", param="content")
    if payload.memory_type == "core":
        for field, given in (("tags", payload.tags), ("source", payload.source)):
            if given is not None:
                raise ApiError(400, f"{field} is for archival memory only", param=field)
        label, content = payload.label, payload.content
        block = await write_block_edit(
            user_id, label, lambda blocks: append(blocks, label, content), "content"
        )
        body = MemoryAddResponse(
            user=user_id, ids=[], memory_type="core", label=label, block=_core_block(block)
        )
        return JSONResponse(body.model_dump(), status_code=201)
    store = await server_store()
    ids = await asyncio.to_thread(
        insert_passages,
        store,
        _archive(user_context(user_id)),
        payload.content,
        payload.tags,
        source=payload.source,
    )
    return JSONResponse(MemoryAddResponse(user=user_id, ids=ids).model_dump(), status_code=201)


async def _thread_blocks(client: LangGraphClient, ctx: Context) -> tuple[bool, dict[str, Block]]:
    """(whether the thread has its blocks yet, the blocks): a new thread shows its defaults."""
    stored: dict[str, Block] = {}
    if (thread := await user_thread(client, ctx.user_id)) is not None:
        state = await client.threads.get_state(thread["thread_id"])
        stored = dict((state.get("values") or {}).get("blocks") or {})
    return bool(stored), {**SERVED_AGENT.missing_blocks(ctx, stored), **stored}


def _core_block(block: Block) -> CoreBlock:
    return CoreBlock(**block, chars=len(block["value"]))


@documented(
    "Read the core memory blocks of the user's thread",
    response=CoreMemory,
    parameters=(USER_HEADER_PARAMETER, USER_QUERY_PARAMETER),
)
async def memory_core(request: Request) -> JSONResponse:
    """The blocks the agent sees in every prompt, with their sizes and limits."""
    user_id = resolve_user(request, request.query_params.get("user"))
    thread_id = user_thread_id(user_id)
    initialized, blocks = await _thread_blocks(graph_client(), user_context(user_id))
    body = CoreMemory(
        user=user_id,
        thread_id=thread_id,
        initialized=initialized,
        blocks={label: _core_block(block) for label, block in blocks.items()},
    )
    return JSONResponse(body.model_dump())


@documented(
    "Rewrite one core memory block",
    request=CoreBlockPatch,
    response=CoreBlock,
    parameters=(USER_HEADER_PARAMETER, LABEL_PARAMETER),
    errors={
        400: "Invalid request or over the block's character limit",
        403: "The block is read-only",
        404: "No such block",
        409: "The agent is answering this user right now",
    },
)
async def memory_core_patch(request: Request) -> JSONResponse:
    """Replace a block's value, as the agent's memory_rethink tool would."""
    label = request.path_params["label"]
    payload = await parse_json_body(request, CoreBlockPatch)
    user_id = resolve_user(request, payload.user)
    value = payload.value
    updated = await write_block_edit(user_id, label, lambda blocks: rethink(blocks, label, value))
    return JSONResponse(_core_block(updated).model_dump())


async def write_block_edit(
    user_id: str, label: str, edit: BlockEdit, value_param: str = "value"
) -> Block:
    """Apply ``edit`` to the blocks of the user's thread and write the changed block; returns
    it. A refused edit is an ApiError (404, 403, 400: ``value_param`` names the request field
    of the text), and so is a busy thread (409): nothing is written then."""
    client = graph_client()
    thread_id = user_thread_id(user_id)
    _, blocks = await _thread_blocks(client, user_context(user_id))
    try:
        updated = edit(blocks)[label]
    except BlockEditError as error:
        status, kind = _EDIT_REFUSALS[error.problem]
        param = "label" if error.problem in _LABEL_PROBLEMS else value_param
        raise ApiError(status, str(error), type=kind, param=param) from None
    await refuse_if_busy(client, user_id)
    await ensure_user_thread(client, user_id)
    # Written as the tool executor's update: the thread then rests as after a turn (no node
    # pending), and the next message starts a normal turn.
    await client.threads.update_state(
        thread_id, {"blocks": {label: updated}}, as_node="execute_tools"
    )
    return updated


@documented(
    "Model, window, token budget, memory counts and storage of the user's agent",
    response=Status,
    parameters=(USER_HEADER_PARAMETER, USER_QUERY_PARAMETER),
)
async def status(request: Request) -> JSONResponse:
    """What the agent runs on and how much it remembers, for the user's thread."""
    user_id = resolve_user(request, request.query_params.get("user"))
    thread_id = user_thread_id(user_id)
    exists = await user_thread(graph_client(), user_id) is not None
    info: dict[str, Any] = await acollect_status(
        checkpointer=await server_checkpointer(),
        store=await server_store(),
        thread_id=thread_id if exists else None,
        user_id=user_id,
        context=user_context(user_id),
    )
    return JSONResponse(Status.model_validate(info).model_dump())
