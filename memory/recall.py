"""Recall memory operations: search everything ever said in a thread, evicted or not.

The same search serves the agent's ``conversation_search`` tool, the CLI's ``/search`` and
applications::

    from langgraph_memgpt.memory import search_conversation
    page = search_conversation(checkpointer, "thread-1", "tea", roles=["user"])

The index lives beside a SQLite checkpoint file (``<file>-recall.sqlite``), in
``$MEMGPT_RECALL_INDEX`` (or ``~/.local/share/langgraph-memgpt/recall-index.sqlite``) for other
persistent checkpointers such as PostgreSQL, and in memory for in-memory checkpointers. It is
caught up from the checkpoints before every search and can be rebuilt from them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph_memgpt.checkpoints.history import read_log, source_key
from langgraph_memgpt.checkpoints.sqlite import default_checkpoint_path
from langgraph_memgpt.embeddings import load_embedding_model
from langgraph_memgpt.search.recall_index import RecallIndex, RecallPage
from langgraph_memgpt.search.text import date_bounds
from langgraph_memgpt.steps import NodeSteps, adrive, blocking, drive

MAX_LIMIT = 50
SNIPPET_CHARS = 500
Role = Literal["user", "assistant", "tool", "system"]

_indexes: dict[str, RecallIndex] = {}
_indexes_lock = threading.Lock()


def index_location(source: str) -> str:
    """Where the recall index of a checkpointer's data lives."""
    configured = os.environ.get("MEMGPT_RECALL_INDEX")
    if configured:
        return configured
    if source.startswith("sqlite:"):
        path = source.removeprefix("sqlite:")
        return f"{path}-recall.sqlite" if path and not path.isdigit() else ":memory:"
    if source.startswith("process:"):
        return ":memory:"
    return str(default_checkpoint_path().parent / "recall-index.sqlite")


def recall_index(source: str) -> RecallIndex:
    location = index_location(source)
    key = location if location != ":memory:" else source
    with _indexes_lock:
        index = _indexes.get(key)
        if index is None:
            index = RecallIndex(location, load_embedding_model())
            _indexes[key] = index
    return index


def search_steps(
    checkpointer: BaseCheckpointSaver,
    thread_id: str,
    query: str = "",
    *,
    roles: Sequence[str] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: int = 5,
    page: int = 0,
    exclude_ids: Sequence[str] = (),
    rebuild: bool = False,
) -> NodeSteps[RecallPage]:
    """Catch the index up with the thread's checkpoints, then search it."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if page < 0:
        raise ValueError(f"page must be 0 or more, got {page}")
    start, end = date_bounds(start_date, end_date)
    if not query.strip() and not (start or end):
        raise ValueError("give a query, or a start_date/end_date to list a period")
    source = yield from source_key(checkpointer)
    index = yield blocking(recall_index, source)
    tid, cursor = yield blocking(index.thread, f"{source}|{thread_id}")
    if rebuild:
        yield blocking(index.clear, tid)
        cursor = {}
    batch = yield from read_log(checkpointer, thread_id, cursor)
    yield blocking(index.add, tid, batch.messages, batch.cursor)

    def run_search() -> RecallPage:
        return index.search(
            tid,
            query,
            roles=roles,
            start=start,
            end=end,
            limit=limit,
            page=page,
            exclude_ids=exclude_ids,
        )

    return (yield blocking(run_search))


def search_conversation(
    checkpointer: BaseCheckpointSaver, thread_id: str, query: str = "", **options: Any
) -> RecallPage:
    """Search a thread's whole history (see :func:`search_steps` for the options)."""
    return drive(search_steps(checkpointer, thread_id, query, **options))


async def asearch_conversation(
    checkpointer: BaseCheckpointSaver, thread_id: str, query: str = "", **options: Any
) -> RecallPage:
    return await adrive(search_steps(checkpointer, thread_id, query, **options))


def rebuild_recall_index(checkpointer: BaseCheckpointSaver, thread_id: str) -> int:
    """Drop a thread's index and rebuild it from its checkpoints; returns messages indexed."""
    search_conversation(checkpointer, thread_id, "", start_date="0001-01-01", rebuild=True)
    source = drive(source_key(checkpointer))
    index = recall_index(source)
    return index.count(index.thread(f"{source}|{thread_id}")[0])


def relative_time(timestamp: str | None, now: datetime) -> str:
    if not timestamp:
        return "time unknown"
    seconds = (now - datetime.fromisoformat(timestamp)).total_seconds()
    if seconds < 0:
        return "in the future"
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("week", 604_800),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def format_page(page: RecallPage, query: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if page.total == 0:
        return f'No results for "{query}".' if query else "No messages in that period."
    first = page.page * page.limit + 1
    header = (
        f"Showing {len(page.hits)} of {page.total} results (page {page.page + 1}/{page.pages})"
        + (f' for "{query}"' if query else "")
        + ":"
    )
    lines = [header]
    for number, hit in enumerate(page.hits, start=first):
        who = f"{hit.role} {hit.name}" if hit.name else hit.role
        when = (hit.timestamp or "")[:16].replace("T", " ")
        text = hit.text
        if len(text) > SNIPPET_CHARS:
            text = text[:SNIPPET_CHARS] + f"... [cut: {len(hit.text) - SNIPPET_CHARS:,} more chars]"
        lines.append(f"{number}. [{who}, {when}, {relative_time(hit.timestamp, now)}] {text}")
    if page.page + 1 < page.pages:
        lines.append(f"(more: call again with page={page.page + 1})")
    return "\n".join(lines)
