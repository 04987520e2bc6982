"""retrieve_memory: search memory for a new user message before the model answers it.

Seed 001's memory flow: when a user message arrives, the relevant past context is searched and
the best results are put in front of the model. A large model calls ``conversation_search`` or
``archival_memory_search`` when it needs to; a 1.5B model mostly does not, so for local models
(``Context.retrieval="auto"``) the graph searches for it. The node runs once per run, at its
start (the heartbeat loop goes back to ``check_memory_pressure``, not here), and only when the
run brings a user message to answer.

What it searches and shows:

- recall memory: this thread's messages outside the context window (the whole queue and the
  messages of abandoned branches are left out), with the same search as
  ``conversation_search``; skipped while nothing has been evicted (everything is in view);
- archival memory, where the run has a store with passages in the user's archive;
- at most ``retrieval_count`` memories of at least ``retrieval_min_relevance`` cosine
  similarity, alternating between the two sources in their own rank order (their scores are
  not on one scale), within ``retrieval_token_cap`` tokens and never more than the window has
  room for below the flush threshold.

The result is a state field (``retrieved``), not a message: the prompt renders it right before
the user message (``graph/prompts.py``), the budget counts it as its own section, and the next
user message replaces it. So the prefix before the queue never changes, every call of a turn
sends the same note, and the engine re-processes only from the previous turn's user message.
A failed search never fails the turn: the model answers without the memories, and the state
says why.

The node also notes, once per turn, whether the user's knowledge graph has data
(``knowledge_graph``): ``knowledge_graph_search`` is offered to the model only then.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph_memgpt.archival.capabilities import Countable
from langgraph_memgpt.checkpoints.history import running_checkpointer
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import render_retrieved
from langgraph_memgpt.graph.state import MemGPTState, RetrievedHit, RetrievedMemory
from langgraph_memgpt.memory.archive import archive_namespace, bound_context, hybrid_search
from langgraph_memgpt.memory.knowledge import has_knowledge
from langgraph_memgpt.memory.recall import search_steps
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.search.recall_index import indexed_text
from langgraph_memgpt.steps import NodeSteps, blocking
from langgraph_memgpt.tokens import counter
from langgraph_memgpt.tools.recall import MAX_QUERY_CHARS

logger = logging.getLogger("langgraph_memgpt.retrieve")

CANDIDATES_PER_SOURCE = 10
"""Hits read from each source before the relevance floor and the count are applied."""
MIN_USEFUL_TOKENS = 48
"""Below this much room the note would hold no memory worth showing: none is retrieved."""


def query_text(message: BaseMessage) -> str:
    """The search query a user message makes: its text, cut to a query's length."""
    return indexed_text(message)[:MAX_QUERY_CHARS].strip()


def interleave(*rankings: Sequence[RetrievedHit]) -> list[RetrievedHit]:
    """Best of each source first: recall 1, archival 1, recall 2, ... (ranks, not scores)."""
    return [hit for group in zip_longest(*rankings) for hit in group if hit is not None]


def fit_hits(
    hits: Sequence[RetrievedHit], count: int, max_tokens: int
) -> tuple[list[RetrievedHit], int]:
    """The first ``count`` hits whose note stays within ``max_tokens`` (a hit that does not
    fit is skipped, so a long one does not keep shorter ones out), and the note's size."""
    chosen: list[RetrievedHit] = []
    size = 0
    for hit in hits:
        if len(chosen) == count:
            break
        tokens = counter.message(HumanMessage(content=render_retrieved([*chosen, hit])))
        if tokens <= max_tokens:
            chosen.append(hit)
            size = tokens
    return chosen, size


def _recall_hits(
    state: MemGPTState, config: dict[str, Any], thread_id: str | None, query: str, ctx: Context
) -> NodeSteps[list[RetrievedHit]]:
    summary = state.get("summary")
    checkpointer = running_checkpointer(config)
    # Nothing evicted yet: every message of the thread is in view.
    if not summary or not summary["message_count"] or checkpointer is None or thread_id is None:
        return []
    in_view = [m.id for m in state.get("messages") or [] if m.id]
    page = yield from search_steps(
        checkpointer,
        thread_id,
        query,
        limit=CANDIDATES_PER_SOURCE,
        exclude_ids=[*in_view, *(state.get("forgotten_ids") or [])],
    )
    return [
        RetrievedHit(
            source="recall",
            id=hit.message_id,
            role=hit.role,
            name=hit.name,
            timestamp=hit.timestamp,
            text=hit.text,
            similarity=hit.similarity,
        )
        for hit in page.hits
        if hit.similarity is None or hit.similarity >= ctx.retrieval_min_relevance
    ]


def _archival_hits(
    store: BaseStore, config: dict[str, Any], thread_id: str | None, query: str, ctx: Context
) -> list[RetrievedHit]:
    namespace = archive_namespace(bound_context(ctx, config), thread_id)
    if isinstance(store, Countable) and store.count(namespace) == 0:
        return []  # no passages: no query to embed
    results = hybrid_search(store, namespace, query, min_similarity=ctx.retrieval_min_relevance)
    return [
        RetrievedHit(
            source="archival",
            id=item.key,
            role=None,
            name=None,
            timestamp=item.created_at.isoformat(timespec="seconds"),
            text=str(item.value.get("content", "")),
            similarity=item.score,
        )
        for item, _ in results[:CANDIDATES_PER_SOURCE]
        # A passage found by its words alone, or in a store without an embedding index, has
        # no similarity to hold to the floor: only hits with one are shown unasked.
        if item.score is not None
    ]


def retrieve_steps(
    state: MemGPTState, runtime: Runtime[Context], *, agent: AgentSpec
) -> NodeSteps[dict[str, Any]]:
    update = yield from knowledge_flag(state, runtime, agent)
    return {**update, **(yield from retrieval_steps(state, runtime, agent))}


def has_work(state: MemGPTState, runtime: Runtime[Context], agent: AgentSpec) -> bool:
    """Whether ``retrieve_memory`` can change anything this run: automatic retrieval is on,
    there is a knowledge graph to check, or the last turn's memories are still shown (they
    leave). Otherwise the graph goes straight to the pressure check (``nodes/routing.py``)."""
    return bool(
        agent.retrieval_sources(agent.context(runtime))
        or state.get("retrieved")
        or checks_knowledge(runtime, agent)
    )


def checks_knowledge(runtime: Runtime[Context], agent: AgentSpec) -> bool:
    """A store to look in, and a tool that needs the knowledge graph."""
    return runtime.store is not None and any(t.requires_knowledge for t in agent.tools)


def knowledge_flag(
    state: MemGPTState, runtime: Runtime[Context], agent: AgentSpec
) -> NodeSteps[dict[str, Any]]:
    """``knowledge_graph`` when it changed: whether the user's knowledge graph has data, so
    ``knowledge_graph_search`` is offered (checked once a turn; the flag is in the state so
    every call of the turn offers the same tools, and the prompt cache holds)."""
    known = bool(state.get("knowledge_graph"))
    if not checks_knowledge(runtime, agent):
        return {}
    ctx = bound_context(agent.context(runtime), get_config())
    try:
        has = yield blocking(has_knowledge, runtime.store, ctx)
    except Exception as error:  # the store failing keeps what was known; the turn goes on
        logger.warning("knowledge graph check failed: %s", error)
        return {}
    return {"knowledge_graph": has} if has != known else {}


def retrieval_steps(
    state: MemGPTState, runtime: Runtime[Context], agent: AgentSpec
) -> NodeSteps[dict[str, Any]]:
    """The retrieved memories for the run's user message (``retrieved``)."""
    ctx = agent.context(runtime)
    queue = state.get("messages") or []
    previous = state.get("retrieved")
    sources = agent.retrieval_sources(ctx)
    asking = queue[-1] if queue else None
    query = query_text(asking) if isinstance(asking, HumanMessage) else ""
    if not sources or asking is None or not query:
        # No user message to answer (a heartbeat's system event, a re-sent message): the
        # previous turn's memories leave the prompt.
        return {"retrieved": None} if previous else {}
    if previous and previous["for_message_id"] == asking.id:
        return {}  # the same message again (a resumed run): keep what it was shown

    config = get_config()
    thread = (config.get("configurable") or {}).get("thread_id")
    thread_id = str(thread) if thread is not None else None
    # Off the event loop: assembling counts tokens and may ask the store for its size.
    budget = yield blocking(agent.measure, {**state, "retrieved": None}, runtime.store, ctx)
    room = int(ctx.flush_fraction * ctx.prompt_window) - budget["budget"]
    max_tokens = min(ctx.retrieval_token_cap, room)
    result = RetrievedMemory(
        for_message_id=str(asking.id), sources=sorted(sources), hits=[], tokens=0, note=None
    )
    if max_tokens < MIN_USEFUL_TOKENS:
        result["note"] = f"no room in the context window ({max(room, 0)} tokens left)"
        return {"retrieved": result}

    rankings: list[list[RetrievedHit]] = []
    try:
        if "recall" in sources:
            rankings.append((yield from _recall_hits(state, config, thread_id, query, ctx)))
        if "archival" in sources and runtime.store is not None:
            rankings.append(
                (yield blocking(_archival_hits, runtime.store, config, thread_id, query, ctx))
            )
    except Exception as error:  # the turn goes on without the memories
        logger.warning("automatic retrieval failed: %s", error, exc_info=True)
        result["note"] = f"search failed: {type(error).__name__}: {error}"
    result["hits"], result["tokens"] = fit_hits(
        interleave(*rankings), ctx.retrieval_count, max_tokens
    )
    return {"retrieved": result}
