"""What an agent is running on and how much it remembers: one dict for ``/status`` and the CLI.

The figures are read from the same places the agent reads them: the thread's token budget
from its latest checkpoint, the recall count from the checkpoint log (every message the thread
ever had, evicted or not), the archival count from the user's namespace in the store. The
logic is written once as a generator of I/O calls (see ``nodes/io.py``) and driven sync or
async, so ``langgraph dev`` (which forbids blocking I/O in async code) can serve it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from langgraph_memgpt.checkpoints.history import read_log, saver_kind, source_key
from langgraph_memgpt.embeddings import configured_embedding_model
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.memory.archive import archive_namespace, count_passages
from langgraph_memgpt.memory.recall import index_location
from langgraph_memgpt.steps import Call, NodeSteps, adrive, drive

_SYNC_ONLY_SAVERS = ("sqlite", "postgres")
"""LangGraph's sync savers (``saver_kind``), subclasses included."""


def is_sync_only_saver(checkpointer: BaseCheckpointSaver | None) -> bool:
    """Savers that can only be read synchronously (their log reads and ``aget`` methods are
    not implemented): async entry points run their work in a worker thread instead."""
    return saver_kind(checkpointer) in _SYNC_ONLY_SAVERS


def status_steps(
    *,
    checkpointer: BaseCheckpointSaver | None,
    store: BaseStore | None,
    thread_id: str | None,
    user_id: str,
    context: Context,
) -> NodeSteps[dict[str, Any]]:
    """The status as a generator of I/O calls (drive it with ``drive`` or ``adrive``)."""
    ctx = context if context.user_id == user_id else dataclasses.replace(context, user_id=user_id)
    budget = None
    recall_messages = 0
    if checkpointer is not None and thread_id:
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        latest = yield Call(
            run=lambda: checkpointer.get_tuple(config),
            arun=lambda: checkpointer.aget_tuple(config),
        )
        if latest is not None:
            value = latest.checkpoint.get("channel_values", {}).get("budget")
            budget = dict(value) if value else None
        batch = yield from read_log(checkpointer, thread_id, {})
        recall_messages = len(batch.messages)
    archival = None
    if store is not None:
        archival = yield from count_passages(store, archive_namespace(ctx, thread_id))
    storage = {"checkpoints": None, "archive": None, "recall_index": None}
    if checkpointer is not None:
        source = yield from source_key(checkpointer)
        storage["checkpoints"] = _checkpoint_location(source)
        index = index_location(source)
        storage["recall_index"] = None if index == ":memory:" else index
    archive_path = getattr(store, "path", None)
    if isinstance(archive_path, str) and archive_path != ":memory:":
        storage["archive"] = archive_path
    return {
        "model": ctx.model,
        "context_window": ctx.context_window,
        "thread_id": thread_id,
        "user_id": user_id,
        "budget": budget,
        "recall_messages": recall_messages,
        "archival_passages": archival,
        "embedding_model": configured_embedding_model(),
        "storage": storage,
    }


def _checkpoint_location(source: str) -> str | None:
    if source.startswith("sqlite:"):
        path = source.removeprefix("sqlite:")
        return None if not path or path.isdigit() else path
    if source.startswith("postgres:"):
        return "postgresql://" + source.removeprefix("postgres:")
    return None  # an in-memory or unknown saver has no location to show


def collect_status(
    *,
    checkpointer: BaseCheckpointSaver | None,
    store: BaseStore | None,
    thread_id: str | None,
    user_id: str,
    context: Context,
) -> dict[str, Any]:
    """Model, window, token budget, memory counts and storage locations, as plain JSON values.

    Example:
        ```python
        from langgraph_memgpt.archival import open_archive
        from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
        from langgraph_memgpt.graph import Context
        from langgraph_memgpt.memory.status import collect_status

        with open_sqlite_checkpointer("c.sqlite") as saver:
            info = collect_status(
                checkpointer=saver, store=open_archive("a.sqlite"),
                thread_id="ada", user_id="ada", context=Context(),
            )
        info["recall_messages"], info["archival_passages"], info["budget"]["queue"]
        ```
    """
    return drive(
        status_steps(
            checkpointer=checkpointer,
            store=store,
            thread_id=thread_id,
            user_id=user_id,
            context=context,
        )
    )


async def acollect_status(
    *,
    checkpointer: BaseCheckpointSaver | None,
    store: BaseStore | None,
    thread_id: str | None,
    user_id: str,
    context: Context,
) -> dict[str, Any]:
    """:func:`collect_status` for async code (``await acollect_status(...)``, same arguments)."""
    options = {
        "checkpointer": checkpointer,
        "store": store,
        "thread_id": thread_id,
        "user_id": user_id,
        "context": context,
    }
    if is_sync_only_saver(checkpointer):
        return await asyncio.to_thread(collect_status, **options)
    return await adrive(status_steps(**options))


__all__ = [
    "acollect_status",
    "collect_status",
    "count_passages",
    "is_sync_only_saver",
    "status_steps",
]
