"""Export: read one thread's whole memory into an agent file (see ``document`` for the format).

What the agent answers from is read where it lives: the blocks, summary, budget and queue from
the thread's latest state, the full message history (every message ever added, evicted or
not) from the checkpoints' recall log, and the user's archival passages from the store, page
by page. Reading is one generator of I/O calls, run by the sync or the async driver.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from langchain_core.messages import message_to_dict
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from langgraph_memgpt.checkpoints.history import read_log
from langgraph_memgpt.embeddings import configured_embedding_model
from langgraph_memgpt.graph.builder import build_graph
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.memory.archive import archive_namespace
from langgraph_memgpt.memory.status import is_sync_only_saver
from langgraph_memgpt.portability.document import FORMAT, SCHEMA_VERSION, with_user
from langgraph_memgpt.steps import Call, NodeSteps, adrive, drive

PAGE = 1_000
"""Passages read per page on export."""


class ThreadNotFoundError(LookupError):
    """The thread to export has no checkpoints."""


def export_steps(
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str,
    user_id: str,
    context: Context | None = None,
) -> NodeSteps[dict[str, Any]]:
    """The export as a generator of I/O calls (see :func:`export_agent`)."""
    ctx = with_user(context or Context(user_id=user_id), user_id)
    # The graph only reads the thread's state here; no model or store is needed for that.
    agent = build_graph(checkpointer=checkpointer)
    config = {"configurable": {"thread_id": thread_id}}
    snapshot = yield Call(
        run=lambda: agent.get_state(config), arun=lambda: agent.aget_state(config)
    )
    if snapshot.created_at is None:
        raise ThreadNotFoundError(f"thread '{thread_id}' has no checkpoints: nothing to export")
    values = snapshot.values
    log = yield from read_log(checkpointer, thread_id, {})
    namespace = archive_namespace(ctx, thread_id)
    passages = (yield from list_passages(store, namespace)) if store is not None else []
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exported_by": f"langgraph-memgpt {_package_version()}",
        "thread_id": thread_id,
        "user_id": user_id,
        "configuration": dataclasses.asdict(ctx),
        "memory": {
            "blocks": dict(values.get("blocks") or {}),
            "summary": values.get("summary") or None,
            "pressure_warned": bool(values.get("pressure_warned")),
            "budget": dict(values["budget"]) if values.get("budget") else None,
            "prompt_core": values.get("prompt_core") or None,
        },
        "queue": [message_to_dict(m) for m in values.get("messages") or []],
        "history": [message_to_dict(m) for m in log.messages],
        "archival": {
            "namespace": list(namespace),
            "embedding_model": configured_embedding_model() if store is not None else None,
            "passages": passages,
        },
    }


def list_passages(store: BaseStore, namespace: tuple[str, ...]) -> NodeSteps[list[dict]]:
    """Every passage stored directly in ``namespace``, in store order, as JSON values."""
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = yield Call(
            run=lambda o=offset: store.search(namespace, limit=PAGE, offset=o),
            arun=lambda o=offset: store.asearch(namespace, limit=PAGE, offset=o),
        )
        for item in page:
            # search() takes a namespace prefix: thread-scoped archives below it are not ours.
            if tuple(item.namespace) == tuple(namespace):
                found.append(
                    {
                        "id": item.key,
                        "value": item.value,
                        "created_at": item.created_at.isoformat(),
                        "updated_at": item.updated_at.isoformat(),
                    }
                )
        if len(page) < PAGE:
            return found
        offset += PAGE


def export_agent(
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str,
    user_id: str,
    context: Context | None = None,
) -> dict[str, Any]:
    """One JSON-able document with the thread's memory, history, archive and configuration.

    Example:
        ```python
        from langgraph_memgpt.archival import SqliteVecStore
        from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
        from langgraph_memgpt.portability import dump_document, export_agent

        with open_sqlite_checkpointer("checkpoints.sqlite") as saver:
            document = export_agent(
                checkpointer=saver, store=SqliteVecStore("archive.sqlite"),
                thread_id="ada", user_id="ada",
            )
        dump_document(document, "ada.json")
        ```
    """
    return drive(
        export_steps(
            checkpointer=checkpointer,
            store=store,
            thread_id=thread_id,
            user_id=user_id,
            context=context,
        )
    )


async def aexport_agent(
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str,
    user_id: str,
    context: Context | None = None,
) -> dict[str, Any]:
    """:func:`export_agent` for async code (same arguments)."""
    options = {
        "checkpointer": checkpointer,
        "store": store,
        "thread_id": thread_id,
        "user_id": user_id,
        "context": context,
    }
    if is_sync_only_saver(checkpointer):
        return await asyncio.to_thread(export_agent, **options)
    return await adrive(export_steps(**options))


def _package_version() -> str:
    try:
        return metadata.version("langgraph-memgpt")
    except metadata.PackageNotFoundError:
        return "unknown"
