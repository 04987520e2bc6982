"""The agent as one Python object: chat, remember, search, consolidate, save and look back.

Seed 001's simplest entry points, as a thin layer over what exists: the compiled graph
(``build_graph``), the memory operations (``memory/blocks.py``, ``memory/archive.py``,
``memory/recall.py``, ``memory/block_history.py``), the export (``portability``) and the
consolidation graph (``graph/consolidate.py``). No memory rule is decided here: a block's limit,
a passage's payload, a search's ranking are theirs, so the object, the terminal chat and the
HTTP API cannot differ.

    from langgraph_memgpt import MemGPTAgent

    agent = MemGPTAgent()
    agent.chat("Hi, I'm Ada", user_id="ada")
    agent.search_memory("Ada", user_id="ada")

Each method is written once, as a generator of I/O calls (``steps.py``), and run by the sync
driver or, for the ``a*`` twins, the async one; with a checkpointer that only has sync methods
(LangGraph's ``SqliteSaver``, the default file's) the twins run the sync method in a worker
thread instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph_memgpt.archival import open_archive
from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
from langgraph_memgpt.graph.builder import build_graph
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.memory.archive import archive_namespace, insert_passages, search_archive
from langgraph_memgpt.memory.block_history import BlockVersion, block_history_steps, edit_metadata
from langgraph_memgpt.memory.blocks import append
from langgraph_memgpt.memory.recall import MAX_LIMIT, search_steps
from langgraph_memgpt.memory.status import is_sync_only_saver
from langgraph_memgpt.nodes.agent import AgentSpec, BlockSpec
from langgraph_memgpt.portability import dump_document, export_steps
from langgraph_memgpt.search.fusion import display_relevance
from langgraph_memgpt.steps import Call, NodeSteps, adrive, blocking, drive
from langgraph_memgpt.tools.base import AgentTool

if TYPE_CHECKING:
    from langgraph_memgpt.graph.consolidate import ConsolidationReport

T = TypeVar("T")

MemoryType = Literal["archival", "core"]
MEMORY_TYPES: tuple[str, ...] = ("archival", "core")
REPLY_SEPARATOR = "\n\n"
"""Several agent messages in one turn are joined with a blank line (as the HTTP API does)."""
RECALL_ROLES = ("user", "assistant")
"""What search_memory finds in a conversation: what was said, not tool results (which echo
edits and searches, and would show archival passages twice)."""
RECALL_IS_THE_CONVERSATION = (
    "recall memory is the conversation itself: every message sent with chat() is kept and "
    "searchable (search_memory finds it), so nothing can be added to it directly. Use "
    "memory_type='archival' to store a fact for later searches, or 'core' to keep it in "
    "every prompt."
)


def user_thread(user_id: str) -> str:
    """The conversation thread a user gets by default: the one named after them.

    So the terminal chat on the same files (``langgraph-memgpt chat --user ada --thread ada``)
    continues the conversation ``MemGPTAgent().chat(..., user_id="ada")`` had.
    """
    return user_id


@dataclass(frozen=True)
class MemoryHit:
    """One memory :meth:`MemGPTAgent.search_memory` found."""

    source: Literal["recall", "archival"]
    """'recall': a message of the user's conversation; 'archival': a stored passage."""
    id: str
    """The message's id, or the passage's key."""
    text: str
    time: str | None
    """When it was said or stored (ISO-8601 UTC)."""
    relevance: float
    """The source's keyword + semantic rank fusion, on the scale both sources share (1.0:
    first by both of its rankings)."""
    similarity: float | None = None
    """Cosine similarity to the query, where it was found by meaning."""
    role: str | None = None
    """Who said it ('user', 'assistant'), for recall hits."""
    tags: tuple[str, ...] = ()
    """The passage's tags, for archival hits."""


@dataclass(frozen=True)
class MemoryAdded:
    """What :meth:`MemGPTAgent.add_memory` stored."""

    memory_type: MemoryType
    user_id: str
    ids: tuple[str, ...] = ()
    """The passages' ids (archival; long text is split into several)."""
    thread_id: str | None = None
    """The thread whose block was edited (core)."""
    label: str | None = None
    value: str | None = None
    """The block's new value (core)."""


class MemGPTAgent:
    """A MemGPT agent with its memory on local files (or the persistence you give it).

    Example:
        ```python
        agent = MemGPTAgent()
        agent.chat("Hi, I'm Ada", user_id="ada")
        agent.search_memory("Ada", user_id="ada")
        ```

    Args:
        model: A LangChain chat model object, or a model spec string (``"ollama:qwen3:4b"``,
            ``"llamacpp:qwen2.5-coder-0.5b"``, ``"openai:gpt-4o-mini"``; the context's
            ``model`` field), or None for the context's (``auto`` by default).
        db_path: The SQLite checkpoint file (default ``$MEMGPT_CHECKPOINT_DB`` or
            ``~/.local/share/langgraph-memgpt/checkpoints.sqlite``), opened at first use.
        archive_path: The sqlite-vec archive (default ``$MEMGPT_ARCHIVE_DB`` or
            ``archive.sqlite`` beside the checkpoint file), opened at first use (it loads the
            embedding model).
        context: The configuration (``Context``); each call uses it with its ``user_id``.
        checkpointer: Threads (and recall memory) somewhere else, instead of ``db_path``.
        store: Archival memory somewhere else, instead of ``archive_path``.
        summarizer, tools, blocks: As for ``build_graph``.

    Each user has their own conversation (the thread named after them, :func:`user_thread`,
    unless a call names another ``thread_id``) and their own archive (``Context.user_id``).
    ``user_id=None`` is the context's user (``$MEMGPT_USER_ID``, else ``default``).

    One call at a time per thread, as with a compiled graph: a block edit made while a turn
    of the same thread runs would be overwritten by the turn's next checkpoint (the HTTP API
    queues turns and refuses such edits for you). ``close()`` (or ``with MemGPTAgent() as
    agent:``) closes the files the agent opened; persistence you passed in stays yours.
    """

    def __init__(
        self,
        model: str | BaseChatModel | None = None,
        *,
        db_path: str | Path | None = None,
        archive_path: str | Path | None = None,
        context: Context | None = None,
        checkpointer: BaseCheckpointSaver | None = None,
        store: BaseStore | None = None,
        summarizer: BaseChatModel | None = None,
        tools: Sequence[BaseTool | AgentTool] = (),
        blocks: Sequence[BlockSpec] = (),
    ) -> None:
        if checkpointer is not None and db_path is not None:
            raise ValueError("give db_path or checkpointer, not both")
        if store is not None and archive_path is not None:
            raise ValueError("give archive_path or store, not both")
        ctx = context or Context()
        if isinstance(model, str):
            ctx = dataclasses.replace(ctx, model=model)
        self.model: BaseChatModel | None = None if isinstance(model, str) else model
        """The chat model object, if one was given (else the context names it)."""
        self.context = ctx
        self._summarizer = summarizer
        self._tools = tuple(tools)
        self._blocks = tuple(blocks)
        self._db_path = db_path
        self._archive_path = archive_path
        self._given_checkpointer = checkpointer
        self._given_store = store
        self._checkpointer = checkpointer
        self._store = store
        self._graph: CompiledStateGraph | None = None
        self._opened = ExitStack()
        self._open_lock = threading.Lock()

    # -- persistence --------------------------------------------------------------------------

    def _open(self) -> CompiledStateGraph:
        """The compiled graph, opening the default files first if they are needed (blocking:
        file checks, and the archive loads the embedding model)."""
        with self._open_lock:
            if self._graph is None:
                if self._checkpointer is None:
                    self._checkpointer = self._opened.enter_context(
                        open_sqlite_checkpointer(self._db_path)
                    )
                if self._store is None:
                    archive = open_archive(self._archive_path)
                    self._opened.callback(archive.close)
                    self._store = archive
                self._graph = build_graph(
                    self.model,
                    summarizer=self._summarizer,
                    tools=self._tools,
                    blocks=self._blocks,
                    context=self.context,
                    checkpointer=self._checkpointer,
                    store=self._store,
                )
            return self._graph

    @property
    def graph(self) -> CompiledStateGraph:
        """The compiled agent graph, on this agent's checkpointer and store."""
        return self._open()

    @property
    def checkpointer(self) -> BaseCheckpointSaver:
        self._open()
        assert self._checkpointer is not None
        return self._checkpointer

    @property
    def store(self) -> BaseStore:
        self._open()
        assert self._store is not None
        return self._store

    def close(self) -> None:
        """Close the files this agent opened (it opens them again if used after)."""
        with self._open_lock:
            self._opened.close()
            self._graph = None
            self._checkpointer = self._given_checkpointer
            self._store = self._given_store

    def __enter__(self) -> MemGPTAgent:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # -- who and where ------------------------------------------------------------------------

    def _target(self, user_id: str | None, thread_id: str | None) -> tuple[Context, str]:
        """The context for ``user_id`` and the thread a call works on."""
        if user_id is not None and (not isinstance(user_id, str) or not user_id.strip()):
            raise ValueError(f"user_id must be a non-empty string, got {user_id!r}")
        ctx = self.context
        if user_id is not None and user_id != ctx.user_id:
            ctx = dataclasses.replace(ctx, user_id=user_id)
        return ctx, thread_id or user_thread(ctx.user_id)

    @staticmethod
    def _config(thread_id: str, **extra: Any) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}, **extra}

    def _sync_only(self) -> bool:
        # The default checkpoint file is LangGraph's SqliteSaver, which has no async methods.
        saver = self._given_checkpointer
        return saver is None or is_sync_only_saver(saver)

    async def _arun(self, sync: Callable[[], T], steps: Callable[[], NodeSteps[T]]) -> T:
        """An ``a*`` twin: the sync method in a worker thread for a sync-only checkpointer
        (whose async methods raise NotImplementedError), else the steps driven natively."""
        if self._sync_only():
            return await asyncio.to_thread(sync)
        await asyncio.to_thread(self._open)  # the default archive loads a model: off the loop
        return await adrive(steps())

    # -- chat ---------------------------------------------------------------------------------

    def _chat_steps(
        self, message: str, user_id: str | None, thread_id: str | None
    ) -> NodeSteps[str]:
        if not isinstance(message, str) or not message.strip():
            raise ValueError("message is empty; say something")
        ctx, thread = self._target(user_id, thread_id)
        graph = self._open()
        payload = {"messages": [HumanMessage(content=message)]}
        config = self._config(thread)
        options = {"context": ctx, "stream_mode": "updates"}
        # Node updates, not the final state: the turn's replies are what its model calls
        # said, even if eviction has moved some of them out of the queue by the end.
        updates = yield Call(
            run=lambda: list(graph.stream(payload, config, **options)),
            arun=lambda: _collect(graph.astream(payload, config, **options)),
        )
        return REPLY_SEPARATOR.join(_replies(updates))

    def chat(self, message: str, user_id: str | None = None, thread_id: str | None = None) -> str:
        """Send one message; returns the agent's reply (its ``send_message`` texts, joined).

        The turn is a run of the graph on the user's thread: the agent may edit its core
        memory, store or search archival memory and search the conversation before it answers.
        """
        return drive(self._chat_steps(message, user_id, thread_id))

    async def achat(
        self, message: str, user_id: str | None = None, thread_id: str | None = None
    ) -> str:
        """:meth:`chat` for async code."""
        return await self._arun(
            functools.partial(self.chat, message, user_id, thread_id),
            lambda: self._chat_steps(message, user_id, thread_id),
        )

    # -- add to memory ------------------------------------------------------------------------

    def _add_steps(
        self,
        text: str,
        memory_type: str,
        user_id: str | None,
        tags: Sequence[str] | None,
        label: str,
        thread_id: str | None,
    ) -> NodeSteps[MemoryAdded]:
        if memory_type == "recall":
            raise ValueError(RECALL_IS_THE_CONVERSATION)
        if memory_type not in MEMORY_TYPES:
            raise ValueError(f"memory_type must be 'archival' or 'core', got {memory_type!r}")
        ctx, thread = self._target(user_id, thread_id)
        graph = self._open()
        if memory_type == "archival":
            namespace = archive_namespace(ctx, thread)
            ids = yield blocking(insert_passages, self._store, namespace, text, tags)
            return MemoryAdded("archival", ctx.user_id, ids=tuple(ids))
        if tags:
            raise ValueError("tags are for archival memory; a core memory block has none")
        config = self._config(thread)
        snapshot = yield Call(
            run=lambda: graph.get_state(config), arun=lambda: graph.aget_state(config)
        )
        stored = dict(snapshot.values.get("blocks") or {})
        # A thread without a turn yet has no blocks: edit the one it will start with.
        blocks = {**AgentSpec(extra_blocks=self._blocks).missing_blocks(ctx, stored), **stored}
        changed = append(blocks, label, text)  # BlockEditError (a ValueError): nothing written
        # Written as the tool executor's update, like PATCH /memory/core/{label}: the thread
        # rests as after a turn, and the block history names the edit.
        described = self._config(
            thread, metadata=edit_metadata(f"add_memory: appended to '{label}'")
        )
        yield Call(
            run=lambda: graph.update_state(described, {"blocks": changed}, as_node="execute_tools"),
            arun=lambda: graph.aupdate_state(
                described, {"blocks": changed}, as_node="execute_tools"
            ),
        )
        return MemoryAdded(
            "core", ctx.user_id, thread_id=thread, label=label, value=changed[label]["value"]
        )

    def add_memory(
        self,
        text: str,
        memory_type: MemoryType = "archival",
        user_id: str | None = None,
        tags: Sequence[str] | None = None,
        label: str = "human",
        *,
        thread_id: str | None = None,
    ) -> MemoryAdded:
        """Remember ``text`` for the user, without a chat turn.

        - ``"archival"`` (the default): stored as passages in the user's archive (long text
          is split), found by ``search_memory`` and the agent's ``archival_memory_search``.
        - ``"core"``: appended to core memory block ``label`` of the user's thread (in every
          prompt from the next turn on); the block's limit and read-only flag apply, and a
          refused edit (a ``BlockEditError``, a ValueError) changes nothing. Checkpointed like
          the agent's own edits, so :meth:`block_history` shows it.
        - ``"recall"`` is refused (ValueError): recall memory is the conversation itself, and
          grows only by chatting.
        """
        return drive(self._add_steps(text, memory_type, user_id, tags, label, thread_id))

    async def aadd_memory(
        self,
        text: str,
        memory_type: MemoryType = "archival",
        user_id: str | None = None,
        tags: Sequence[str] | None = None,
        label: str = "human",
        *,
        thread_id: str | None = None,
    ) -> MemoryAdded:
        """:meth:`add_memory` for async code."""
        arguments = (text, memory_type, user_id, tags, label, thread_id)
        return await self._arun(
            lambda: drive(self._add_steps(*arguments)), lambda: self._add_steps(*arguments)
        )

    # -- search -------------------------------------------------------------------------------

    def _search_steps(
        self, query: str, user_id: str | None, limit: int, thread_id: str | None
    ) -> NodeSteps[list[MemoryHit]]:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query is empty; say what to look for")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        ctx, thread = self._target(user_id, thread_id)
        graph = self._open()
        config = self._config(thread)
        snapshot = yield Call(
            run=lambda: graph.get_state(config), arun=lambda: graph.aget_state(config)
        )
        page = yield from search_steps(
            self._checkpointer,
            thread,
            query,
            roles=RECALL_ROLES,
            limit=limit,
            # Messages of abandoned branches (a regenerated chat turn) are not remembered.
            exclude_ids=list(snapshot.values.get("forgotten_ids") or []),
        )
        recall = [
            MemoryHit(
                source="recall",
                id=hit.message_id,
                text=hit.text,
                time=hit.timestamp,
                relevance=round(display_relevance(hit.score), 4),
                similarity=hit.similarity,
                role=hit.role,
            )
            for hit in page.hits
        ]
        results = yield blocking(
            functools.partial(
                search_archive,
                self._store,
                archive_namespace(ctx, thread),
                query,
                min_similarity=ctx.archival_min_similarity,
            )
        )
        archival = [
            MemoryHit(
                source="archival",
                id=item.key,
                text=str(item.value.get("content", "")),
                time=item.created_at.isoformat(timespec="seconds"),
                relevance=round(display_relevance(score), 4),
                similarity=item.score,
                tags=tuple(item.value.get("tags") or ()),
            )
            for item, score in results[:limit]
        ]
        return rank_together(recall, archival)[:limit]

    def search_memory(
        self,
        query: str,
        user_id: str | None = None,
        limit: int = 5,
        *,
        thread_id: str | None = None,
    ) -> list[MemoryHit]:
        """The user's memories best matching ``query``: their conversation (recall, every
        message ever said, evicted or not) and their archive, ranked together, best first.

        Each hit says where it came from (``source``), with its text, time, id and relevance.
        """
        return drive(self._search_steps(query, user_id, limit, thread_id))

    async def asearch_memory(
        self,
        query: str,
        user_id: str | None = None,
        limit: int = 5,
        *,
        thread_id: str | None = None,
    ) -> list[MemoryHit]:
        """:meth:`search_memory` for async code."""
        return await self._arun(
            lambda: self.search_memory(query, user_id, limit, thread_id=thread_id),
            lambda: self._search_steps(query, user_id, limit, thread_id),
        )

    # -- consolidation ------------------------------------------------------------------------

    def _consolidation_target(
        self, user_id: str | None, thread_id: str | None
    ) -> tuple[Context, str, dict[str, Any]]:
        ctx, thread = self._target(user_id, thread_id)
        self._open()
        options = {
            "checkpointer": self._checkpointer,
            "store": self._store,
            "context": ctx,
            "model": self.model,
        }
        return ctx, thread, options

    def consolidate_memory(
        self, user_id: str | None = None, thread_id: str | None = None
    ) -> ConsolidationReport:
        """Tidy the user's memory from their conversation since the last run (the
        ``consolidate`` graph): lasting facts into archival memory, a knowledge graph, and
        the human block kept a compact profile. Returns what it did."""
        # Imported at use: importing the package (and so this module) need not load the
        # consolidation graph.
        from langgraph_memgpt.graph.consolidate import consolidate_thread

        _, thread, options = self._consolidation_target(user_id, thread_id)
        return consolidate_thread(thread, **options)

    async def aconsolidate_memory(
        self, user_id: str | None = None, thread_id: str | None = None
    ) -> ConsolidationReport:
        """:meth:`consolidate_memory` for async code."""
        from langgraph_memgpt.graph.consolidate import aconsolidate_thread

        if self._sync_only():
            return await asyncio.to_thread(self.consolidate_memory, user_id, thread_id)
        _, thread, options = await asyncio.to_thread(self._consolidation_target, user_id, thread_id)
        return await aconsolidate_thread(thread, **options)

    # -- save ---------------------------------------------------------------------------------

    def _save_steps(
        self, path: str | Path, user_id: str | None, thread_id: str | None
    ) -> NodeSteps[Path]:
        ctx, thread = self._target(user_id, thread_id)
        self._open()
        document = yield from export_steps(
            checkpointer=self._checkpointer,
            store=self._store,
            thread_id=thread,
            user_id=ctx.user_id,
            context=ctx,
        )
        target = Path(path)
        yield blocking(dump_document, document, target)
        return target

    def save_conversation(
        self, path: str | Path, user_id: str | None = None, thread_id: str | None = None
    ) -> Path:
        """Write the user's conversation and memory to ``path`` as an agent file (the export:
        blocks, summary, queue, full history, archival passages, configuration), which
        ``langgraph-memgpt import`` reads back. Raises ``ThreadNotFoundError`` for a thread
        without a turn."""
        return drive(self._save_steps(path, user_id, thread_id))

    async def asave_conversation(
        self, path: str | Path, user_id: str | None = None, thread_id: str | None = None
    ) -> Path:
        """:meth:`save_conversation` for async code."""
        return await self._arun(
            functools.partial(self.save_conversation, path, user_id, thread_id),
            lambda: self._save_steps(path, user_id, thread_id),
        )

    # -- block history ------------------------------------------------------------------------

    def _history_steps(
        self, label: str, user_id: str | None, thread_id: str | None
    ) -> NodeSteps[list[BlockVersion]]:
        _, thread = self._target(user_id, thread_id)
        return (yield from block_history_steps(self._open(), thread, label))

    def block_history(
        self, label: str, user_id: str | None = None, thread_id: str | None = None
    ) -> list[BlockVersion]:
        """Every version of core memory block ``label`` in the user's thread, oldest first,
        with its time and the edit that made it ('created', the agent's tool call, or an edit
        from outside), read from the thread's checkpoints."""
        return drive(self._history_steps(label, user_id, thread_id))

    async def ablock_history(
        self, label: str, user_id: str | None = None, thread_id: str | None = None
    ) -> list[BlockVersion]:
        """:meth:`block_history` for async code."""
        return await self._arun(
            functools.partial(self.block_history, label, user_id, thread_id),
            lambda: self._history_steps(label, user_id, thread_id),
        )


def rank_together(recall: Sequence[MemoryHit], archival: Sequence[MemoryHit]) -> list[MemoryHit]:
    """Both sources' hits in one ranking, best first.

    Each source's relevance is already a reciprocal rank fusion of its keyword and semantic
    rankings with the same constants (``search/fusion.py``), so ordering the hits by it is
    reciprocal rank fusion over all four rankings: ranks, never scores on different scales,
    as everywhere else. Ties (the best of one source against the best of the other) alternate
    between the sources, recall first, as automatic retrieval shows them.
    """
    alternating = [hit for pair in zip_longest(recall, archival) for hit in pair if hit]
    return sorted(alternating, key=lambda hit: -hit.relevance)


def _replies(updates: Sequence[dict[str, Any]]) -> Iterator[str]:
    for update in updates:
        for change in update.values():
            for message in (change or {}).get("messages") or []:
                if isinstance(message, AIMessage) and (text := reply_text(message)):
                    yield text


async def _collect(stream: AsyncIterator[T]) -> list[T]:
    return [item async for item in stream]


__all__ = [
    "MEMORY_TYPES",
    "MemGPTAgent",
    "MemoryAdded",
    "MemoryHit",
    "MemoryType",
    "rank_together",
    "user_thread",
]
