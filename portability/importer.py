"""Import: recreate an exported agent's thread and archive from an agent file.

The history is written into the new thread with ``update_state`` in ordered batches (the queue
is a DeltaChannel, so each batch is stored as one checkpoint write, which is exactly what
recall memory reads back), then the queue is set to its exported contents. The recall log of
the imported thread therefore lists the same messages in the same order as the original's,
and conversation_search and archival search return the same results on both.

Rules: a thread that already has memory is refused unless ``force=True``, which deletes it
first; archival passages are upserted by id into the user's archive (re-importing the same
file adds nothing twice). On a failure midway the new thread and the passages it created are
removed again. Like the export, the import is one generator of I/O calls run by either driver.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import RemoveMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore, GetOp, PutOp
from langgraph_memgpt.archival.capabilities import TimestampRestorable
from langgraph_memgpt.graph.builder import build_graph
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.memory.archive import archive_namespace
from langgraph_memgpt.memory.recall import search_steps
from langgraph_memgpt.memory.status import is_sync_only_saver
from langgraph_memgpt.portability.document import AgentFile, AgentFileError, read_document
from langgraph_memgpt.steps import Call, NodeSteps, adrive, blocking, drive

HISTORY_BATCH = 500
"""Fewest messages per import batch; larger histories use bigger batches (see below)."""
HISTORY_BATCHES = 20
"""Most history batches: each is one update of the queue channel, and 50 updates would make
LangGraph store a full snapshot of the (then whole-history) queue in a checkpoint."""
PASSAGE_BATCH = 64
"""Passages embedded and written per store batch."""
IMPORT_NODE = "execute_tools"
"""The node the import's updates are recorded as: with the heartbeat unset it routes to END,
so the imported thread is idle (``next == ()``) like one whose turn has finished."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stages: "history", "archive", "recall index"."""


class ThreadNotEmptyError(RuntimeError):
    """The target thread already has memory; import it elsewhere or pass ``force=True``."""


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    thread_id: str
    user_id: str
    messages: int
    """Messages in the imported history (recall memory)."""
    queue: int
    """Messages in the imported queue (the context window)."""
    passages: int
    """Archival passages written."""
    replaced: bool
    """An existing thread was deleted first (``force=True``)."""
    context: Context
    """The exported configuration (user id as imported): run the agent with it."""
    notes: tuple[str, ...] = ()


def import_steps(
    document: Mapping[str, Any] | AgentFile,
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str | None = None,
    user_id: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> NodeSteps[ImportResult]:
    """The import as a generator of I/O calls (see :func:`import_agent`)."""
    if isinstance(document, AgentFile):
        agent_file = document.with_ids(thread_id, user_id)
    else:
        agent_file = read_document(document, thread_id=thread_id, user_id=user_id)
    if agent_file.passages and store is None:
        raise AgentFileError(
            f"the file holds {len(agent_file.passages)} archival passages but no store was "
            "given to import them into"
        )
    thread = agent_file.thread_id
    agent = _state_graph(checkpointer)
    config = {"configurable": {"thread_id": thread}}
    replaced = yield from thread_memory_steps(agent, thread)
    if replaced:
        if not force:
            raise ThreadNotEmptyError(
                f"thread '{thread}' already has memory; import into another thread, or "
                "replace it (force)"
            )
        yield _delete_thread(checkpointer, thread)
    namespace = archive_namespace(agent_file.context, thread)
    created: list[str] = []
    if store is not None and agent_file.passages:
        created = yield from _new_passage_keys(store, namespace, agent_file.passages)
    try:
        yield from _write_thread(agent, config, agent_file, progress)
        if store is not None and agent_file.passages:
            yield from _write_passages(store, namespace, agent_file.passages, progress)
        if replaced:
            # The recall index still holds the replaced thread's messages: rebuild it.
            if progress:
                progress("recall index", 0, 1)
            yield from search_steps(
                checkpointer, thread, "", start_date="0001-01-01", limit=1, rebuild=True
            )
            if progress:
                progress("recall index", 1, 1)
    except Exception:
        yield _delete_thread(checkpointer, thread)
        if created:
            removals = [PutOp(namespace, key, None) for key in created]
            yield Call(run=lambda: store.batch(removals), arun=lambda: store.abatch(removals))
        raise
    return ImportResult(
        thread_id=thread,
        user_id=agent_file.user_id,
        messages=len(agent_file.history),
        queue=len(agent_file.queue),
        passages=len(agent_file.passages),
        replaced=replaced,
        context=agent_file.context,
        notes=agent_file.notes,
    )


def thread_memory_steps(agent: CompiledStateGraph, thread_id: str) -> NodeSteps[bool]:
    """Whether a thread has memory (messages, blocks or a summary) an import would replace."""
    config = {"configurable": {"thread_id": thread_id}}
    snapshot = yield Call(
        run=lambda: agent.get_state(config), arun=lambda: agent.aget_state(config)
    )
    values = snapshot.values or {}
    return bool(values.get("messages") or values.get("blocks") or values.get("summary"))


def thread_has_memory(checkpointer: BaseCheckpointSaver, thread_id: str) -> bool:
    """True if importing into ``thread_id`` needs ``force`` (check before a long import).

    Example:
        ```python
        if thread_has_memory(saver, "ada"):
            print("thread 'ada' is taken")
        ```
    """
    return drive(thread_memory_steps(_state_graph(checkpointer), thread_id))


def import_agent(
    document: Mapping[str, Any] | AgentFile,
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str | None = None,
    user_id: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Recreate an exported agent: its thread (memory, history, queue) and its archive.

    ``thread_id``/``user_id`` default to the exported ones. A thread that already has memory
    is refused (:class:`ThreadNotEmptyError`) unless ``force`` (then it is replaced).

    Example:
        ```python
        from langgraph_memgpt.archival import open_archive
        from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
        from langgraph_memgpt.portability import import_agent, load_document

        with open_sqlite_checkpointer("new.sqlite") as saver:
            result = import_agent(
                load_document("ada.json"), checkpointer=saver, store=open_archive("new.archive")
            )
        print(result.messages, result.passages)
        ```
    """
    return drive(
        import_steps(
            document,
            checkpointer=checkpointer,
            store=store,
            thread_id=thread_id,
            user_id=user_id,
            force=force,
            progress=progress,
        )
    )


async def aimport_agent(
    document: Mapping[str, Any] | AgentFile,
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str | None = None,
    user_id: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """:func:`import_agent` for async code (same arguments)."""
    options = {
        "checkpointer": checkpointer,
        "store": store,
        "thread_id": thread_id,
        "user_id": user_id,
        "force": force,
        "progress": progress,
    }
    if is_sync_only_saver(checkpointer):
        return await asyncio.to_thread(import_agent, document, **options)
    return await adrive(import_steps(document, **options))


# -- writing -------------------------------------------------------------------------------


def _write_thread(
    agent: CompiledStateGraph,
    config: dict[str, Any],
    agent_file: AgentFile,
    progress: Progress | None,
) -> NodeSteps[None]:
    """State first, then the history in order, then the queue as exported."""
    state: dict[str, Any] = {
        "blocks": agent_file.blocks,
        "pressure_warned": agent_file.pressure_warned,
        "heartbeat": False,
        "step": 0,
    }
    # Left unset when absent, as in a thread that never evicted or never called the model.
    if agent_file.summary is not None:
        state["summary"] = agent_file.summary
    if agent_file.budget is not None:
        state["budget"] = agent_file.budget
    if agent_file.prompt_core is not None:
        state["prompt_core"] = agent_file.prompt_core
    updates: list[dict[str, Any]] = [state]
    history = agent_file.history
    size = max(HISTORY_BATCH, math.ceil(len(history) / HISTORY_BATCHES))
    updates += [{"messages": history[i : i + size]} for i in range(0, len(history), size)]
    # The queue's copies may differ from the history's (a cut oversized message keeps its id):
    # clearing and re-adding gives the exact queue, and the log keeps the longer versions.
    updates.append({"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *agent_file.queue]})
    written = 0
    for update in updates:
        yield Call(
            run=lambda u=update: agent.update_state(config, u, as_node=IMPORT_NODE),
            arun=lambda u=update: agent.aupdate_state(config, u, as_node=IMPORT_NODE),
        )
        if progress and update is not updates[-1] and "blocks" not in update:
            written += len(update["messages"])
            progress("history", written, len(history))
    if progress and not history:
        progress("history", 0, 0)


def _new_passage_keys(
    store: BaseStore, namespace: tuple[str, ...], passages: Sequence[dict[str, Any]]
) -> NodeSteps[list[str]]:
    """Ids of the passages the archive does not hold yet (what a rollback removes)."""
    keys = [p["id"] for p in passages]
    lookups = [GetOp(namespace, key) for key in keys]
    found = yield Call(run=lambda: store.batch(lookups), arun=lambda: store.abatch(lookups))
    return [key for key, item in zip(keys, found, strict=True) if item is None]


def _write_passages(
    store: BaseStore,
    namespace: tuple[str, ...],
    passages: Sequence[dict[str, Any]],
    progress: Progress | None,
) -> NodeSteps[None]:
    """Upsert the passages in export order, with their original store timestamps."""
    for start in range(0, len(passages), PASSAGE_BATCH):
        chunk = passages[start : start + PASSAGE_BATCH]
        puts = [PutOp(namespace, p["id"], p["value"]) for p in chunk]
        yield Call(run=lambda o=puts: store.batch(o), arun=lambda o=puts: store.abatch(o))
        if progress:
            progress("archive", min(start + PASSAGE_BATCH, len(passages)), len(passages))
    # archival_memory_search filters and shows passages by the store's created_at, and
    # BaseStore.put stamps the time of the write: without this every imported passage would
    # look new. Other stores keep the import time (the value's created_at holds the original).
    if isinstance(store, TimestampRestorable):
        times = [
            (p["id"], p["created_at"], p.get("updated_at") or p["created_at"])
            for p in passages
            if p.get("created_at")
        ]
        yield blocking(store.restore_timestamps, namespace, times)


# -- helpers -------------------------------------------------------------------------------


def _state_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The agent graph on ``checkpointer``, used only to read and write thread state."""
    return build_graph(checkpointer=checkpointer)


def _delete_thread(checkpointer: BaseCheckpointSaver, thread_id: str) -> Call:
    return Call(
        run=lambda: checkpointer.delete_thread(thread_id),
        arun=lambda: checkpointer.adelete_thread(thread_id),
    )
