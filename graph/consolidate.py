"""The ``consolidate`` graph: memory tidied while the user is away.

    START -> read_history -> extract_knowledge (one chunk per visit, while any is left)
          -> update_core_memory -> END

For one user's thread it reads the recall history since its last run (a cursor in the store),
asks the model, chunk by chunk, for the lasting facts (stored as archival passages with the
messages they came from, deduplicated by meaning, superseding what they contradict), the
entities and the relations (the user's knowledge graph, which the agent's
``knowledge_graph_search`` tool reads), then folds the new facts into the ``human`` block as a
normal block edit. The nodes are in ``nodes/consolidate.py``, the rules of what is stored in
``memory/knowledge.py``.

This is LangGraph's answer to Letta's "sleep-time" agents: a second graph, registered in
``langgraph.json`` beside the agent, that a LangGraph cron runs on a schedule (on Platform and
under ``langgraph dev``)::

    from langgraph_sdk import get_client

    client = get_client(url="http://127.0.0.1:2024")
    await client.crons.create(
        "consolidate",
        schedule="0 3 * * *",                       # every night at 03:00 UTC
        input={"thread_id": "<the user's thread>"},
        context={"user_id": "ada"},
    )

It also runs from the terminal (``langgraph-memgpt consolidate --thread T``), from Python
(:func:`consolidate_thread`, ``MemGPTAgent.consolidate_memory``) and over HTTP
(``POST /memory/consolidate``). ``graph`` is compiled without persistence (the server brings
its checkpointer, whose threads it reads, and its store); :func:`build_consolidation_graph`
takes your own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph_memgpt._compat import node_runnable
from langgraph_memgpt.graph.builder import build_graph
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.nodes.consolidate import (
    ConsolidationInput,
    ConsolidationSpec,
    ConsolidationState,
    extract_knowledge_steps,
    read_history_steps,
    update_core_memory_steps,
)
from langgraph_memgpt.steps import sync_and_async

NAME = "consolidate"
RECURSION_LIMIT = 100_000
"""One step per chunk: a long history is many more than LangGraph's default of 25 steps."""


class ConsolidationReport(TypedDict):
    """What one consolidation run did."""

    thread_id: str
    user_id: str
    messages: int
    """Messages read since the last run (user messages and the assistant's replies)."""
    chunks: int
    facts_added: int
    duplicates: int
    """Facts the model proposed that were stored already (their sources were added)."""
    superseded: int
    entities: int
    """Entity mentions merged into the knowledge graph (new or extended)."""
    relations: int
    block_edits: list[str]
    notes: list[str]
    """Chunks skipped (a bad or empty answer, a failed call) and refused block proposals."""


Progress = Callable[[int, int], None]
"""Called with (messages done, messages to do) after each chunk."""


def _next_step(state: ConsolidationState) -> str:
    """Another chunk while messages are pending, then the core memory update."""
    return "extract_knowledge" if state.get("pending") else "update_core_memory"


def _agent_for(checkpointer: Any) -> CompiledStateGraph:
    # The agent's state shape and edges, on the thread's checkpointer: update_state then
    # writes the block edit as a checkpoint of the thread, as the HTTP API's PATCH does.
    return build_graph(checkpointer=checkpointer)


def build_consolidation_graph(
    model: BaseChatModel | None = None,
    *,
    history: BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    name: str = NAME,
) -> CompiledStateGraph:
    """Compile the consolidation graph.

    Args:
        model: The model that reads the history; None means the run's context (its
            ``summarizer_model``, else its ``model``).
        history: The checkpointer that holds the threads to consolidate. None means the
            one the run is given (a LangGraph server's, or ``checkpointer``).
        store: Where archival memory, the knowledge graph and the cursor live; None under a
            LangGraph server, which provides its own.
        checkpointer: Persistence for the consolidation runs themselves (not needed: the
            cursor in the store is what makes a run resumable).
        name: Graph name.

    Example:
        ```python
        from langgraph_memgpt.graph.consolidate import build_consolidation_graph

        consolidate = build_consolidation_graph(history=saver, store=store)
        report = consolidate.invoke({"thread_id": "ada-1"}, context=Context(user_id="ada"))
        ```
    """
    spec = ConsolidationSpec(model=model, checkpointer=history)
    read, aread = sync_and_async(functools.partial(read_history_steps, spec=spec))
    extract, aextract = sync_and_async(functools.partial(extract_knowledge_steps, spec=spec))
    update, aupdate = sync_and_async(
        functools.partial(update_core_memory_steps, spec=spec, agent_for=_agent_for)
    )
    builder = StateGraph(
        ConsolidationState, context_schema=Context, input_schema=ConsolidationInput
    )
    builder.add_node("read_history", node_runnable(read, aread))
    builder.add_node("extract_knowledge", node_runnable(extract, aextract))
    builder.add_node("update_core_memory", node_runnable(update, aupdate))
    builder.add_edge(START, "read_history")
    builder.add_conditional_edges(
        "read_history", _next_step, ["extract_knowledge", "update_core_memory"]
    )
    builder.add_conditional_edges(
        "extract_knowledge", _next_step, ["extract_knowledge", "update_core_memory"]
    )
    builder.add_edge("update_core_memory", END)
    compiled = builder.compile(checkpointer=checkpointer, store=store, name=name)
    return compiled.with_config({"recursion_limit": RECURSION_LIMIT})


def report(values: dict[str, Any], thread_id: str, ctx: Context) -> ConsolidationReport:
    return ConsolidationReport(
        thread_id=thread_id,
        user_id=values.get("user_id") or ctx.user_id,
        messages=values.get("messages_read", 0),
        chunks=values.get("chunks", 0),
        facts_added=values.get("facts_added", 0),
        duplicates=values.get("duplicates", 0),
        superseded=values.get("superseded", 0),
        entities=values.get("entities", 0),
        relations=values.get("relations", 0),
        block_edits=list(values.get("block_edits") or []),
        notes=list(values.get("notes") or []),
    )


def _track(values: dict[str, Any], update: dict[str, Any], progress: Progress | None) -> None:
    for node_update in update.values():
        for key, value in (node_update or {}).items():
            if key in ("new_facts", "block_edits", "notes"):
                values[key] = [*values.get(key, []), *value]
            elif key != "pending":
                values[key] = value
        if progress and node_update and "done" in node_update:
            progress(node_update["done"], values.get("messages_read", 0))


def consolidate_thread(
    thread_id: str,
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore,
    context: Context | None = None,
    model: BaseChatModel | None = None,
    progress: Progress | None = None,
) -> ConsolidationReport:
    """Consolidate what ``thread_id`` said since the last run (the Python trigger).

    Example:
        ```python
        report = consolidate_thread("ada-1", checkpointer=saver, store=store,
                                    context=Context(user_id="ada"))
        print(report["facts_added"], report["entities"])
        ```
    """
    ctx = context or Context()
    graph = build_consolidation_graph(model, history=checkpointer, store=store)
    values: dict[str, Any] = {}
    for update in graph.stream({"thread_id": thread_id}, context=ctx, stream_mode="updates"):
        _track(values, update, progress)
    return report(values, thread_id, ctx)


async def aconsolidate_thread(
    thread_id: str,
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore,
    context: Context | None = None,
    model: BaseChatModel | None = None,
    progress: Progress | None = None,
) -> ConsolidationReport:
    """:func:`consolidate_thread` on the async path (an async checkpointer and store)."""
    ctx = context or Context()
    graph = build_consolidation_graph(model, history=checkpointer, store=store)
    values: dict[str, Any] = {}
    async for update in graph.astream({"thread_id": thread_id}, context=ctx, stream_mode="updates"):
        _track(values, update, progress)
    return report(values, thread_id, ctx)


graph = build_consolidation_graph()
"""The consolidation graph without persistence, for ``langgraph dev`` and LangGraph Platform."""
