"""archival_memory_insert / archival_memory_search: the agent's unbounded long-term store.

Adapters over the archival operations of ``memory/archive.py`` (which say where passages live
and whose archive a run may open): the tools parse the model's arguments, derive the insert's
idempotency key from the turn, and format results for the model.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from langgraph.store.base import BaseStore
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.memory.archive import (
    MAX_INSERT_CHARS,
    archive_namespace,
    bound_context,
    format_passages,
    insert_passages,
    search_archive,
)
from langgraph_memgpt.search.text import date_range
from langgraph_memgpt.tools.base import AgentTool, ToolContext, ToolFailure, ToolOutcome
from pydantic import BaseModel, Field


def run_context(ctx: ToolContext) -> Context:
    """The run's context, with ``user_id`` bound to the authenticated user when there is one."""
    return bound_context(ctx.context, ctx.config)


class InsertArgs(BaseModel):
    content: str = Field(description="What to remember, written to be understood later.")
    tags: list[str] | None = Field(default=None, description="Optional labels, e.g. ['work'].")


class SearchArgs(BaseModel):
    query: str = Field(description="What to look for (words or a question).")
    tags: list[str] | None = Field(default=None, description="Only passages with these tags.")
    tag_match: Literal["any", "all"] = Field(
        default="any", description="'any': at least one of the tags; 'all': every tag."
    )
    start_datetime: str | None = Field(default=None, description="ISO date/time lower bound.")
    end_datetime: str | None = Field(
        default=None, description="ISO date/time upper bound; a bare date includes that day."
    )
    page: int = Field(default=0, ge=0, description="Page number, from 0.")


def _store(ctx: ToolContext) -> BaseStore:
    if ctx.store is None:
        raise ToolFailure("archival memory is not configured: this run has no store")
    return ctx.store


def _thread_id(ctx: ToolContext) -> str | None:
    thread = ((ctx.config or {}).get("configurable") or {}).get("thread_id")
    return str(thread) if thread is not None else None


def insert_key(ctx: ToolContext, content: str) -> str | None:
    """The idempotency key of an insert: the thread, the turn and the passage's text.

    A turn can run twice: a step re-run after a crash (same tool call ids), or the whole turn
    sent again after its checkpoints were lost in a crash (``durability="exit"``, a kill
    before the model's answer was saved), with new tool call ids and, without the client's
    own message id, a new id for the user message. What stays the same is the turn: where its
    user message sits in the thread (the messages before it, evicted or queued) and what it
    says. So the key is built from those and the passage's text, and the repeat overwrites
    what it stored the first time. The same words said again later are a new turn, and may
    store the same text again. (A message the thread already answered, sent again with its
    id, does not run at all: see ``nodes/routing.py``.)
    """
    queue = list(ctx.state.get("messages") or [])
    position = next(
        (i for i in range(len(queue) - 1, -1, -1) if getattr(queue[i], "type", "") == "human"),
        None,
    )
    if position is None:
        return f"{_thread_id(ctx)}:{ctx.tool_call_id}" if ctx.tool_call_id else None
    turn = ((ctx.state.get("summary") or {}).get("message_count") or 0) + position
    said = str(queue[position].content)
    digest = hashlib.sha256(f"{turn}\x00{said}\x00{content}".encode()).hexdigest()
    return f"{_thread_id(ctx)}:{digest}"


def archival_memory_insert(args: InsertArgs, ctx: ToolContext) -> ToolOutcome:
    store = _store(ctx)
    if len(args.content) > MAX_INSERT_CHARS:
        raise ToolFailure(
            f"content has {len(args.content):,} characters, more than {MAX_INSERT_CHARS:,}; "
            "store a summary, or ingest the document with `langgraph-memgpt ingest`"
        )
    try:
        thread = _thread_id(ctx)
        ids = insert_passages(
            store,
            archive_namespace(run_context(ctx), thread),
            args.content,
            args.tags,
            idempotency_key=insert_key(ctx, args.content),
        )
    except ValueError as error:
        raise ToolFailure(str(error)) from None
    if len(ids) == 1:
        return ToolOutcome(text=f"Stored in archival memory as {ids[0]}.")
    return ToolOutcome(
        text=f"Stored in archival memory as {len(ids)} passages ({ids[0]} ... {ids[-1]})."
    )


def archival_memory_search(args: SearchArgs, ctx: ToolContext) -> ToolOutcome:
    store = _store(ctx)
    try:
        start, end = date_range(
            args.start_datetime, args.end_datetime, ("start_datetime", "end_datetime")
        )
        results = search_archive(
            store,
            archive_namespace(run_context(ctx), _thread_id(ctx)),
            args.query,
            tags=args.tags,
            tag_match=args.tag_match,
            start=start,
            end=end,
            min_similarity=ctx.context.archival_min_similarity,
        )
    except ValueError as error:
        raise ToolFailure(str(error)) from None
    return ToolOutcome(
        text=format_passages(results, args.query, args.page, ctx.context.archival_page_size)
    )


ARCHIVAL_TOOLS: tuple[AgentTool, ...] = (
    AgentTool(
        name="archival_memory_insert",
        description="Save a fact or document to archival memory (unbounded, searchable "
        "later). Use it for things worth keeping that do not belong in core memory.",
        args_model=InsertArgs,
        run=archival_memory_insert,
        requires_store=True,
    ),
    AgentTool(
        name="archival_memory_search",
        description="Search archival memory by meaning and keywords; filter by tags and "
        "dates; page through results.",
        args_model=SearchArgs,
        run=archival_memory_search,
        requires_store=True,
    ),
)
