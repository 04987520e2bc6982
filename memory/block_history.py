"""Block history: every version a core memory block had, read back from the thread's checkpoints.

Blocks are a plain state channel, so every checkpoint holds each block whole (see
``graph/state.py``): the versions of a block are the checkpoints, along the thread's current
branch, where it differs from the checkpoint before. Nothing is stored a second time. What made
each version, from what LangGraph records:

- the first version is *created* (by the agent's first turn, or by an edit from outside on a
  thread that had no turn yet);
- a checkpoint with ``metadata["source"] == "update"`` was written by ``update_state`` from
  outside a run: the HTTP API's block edits, ``MemGPTAgent.add_memory``, an import, the
  consolidation graph. LangGraph (1.x) no longer records a checkpoint's writes in its
  metadata, but it merges the string values of the writer's ``config["metadata"]`` into it,
  so a writer that can names its edit under :data:`EDIT_METADATA_KEY` (the LangGraph SDK's
  ``threads.update_state`` cannot: such edits read "an edit from outside the conversation");
- any other version was made by a run: the agent's edit tool calls are found in the thread's
  messages. The tool results new since the parent checkpoint (one step with LangGraph's
  default durability, one whole turn with the CLI's ``durability="exit"``) that edited the
  block and succeeded are matched to the calls that asked for them.

The terminal chat's ``/history`` and ``MemGPTAgent.block_history`` both read through here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.pregel import Pregel
from langgraph_memgpt.memory.status import is_sync_only_saver
from langgraph_memgpt.steps import Call, NodeSteps, adrive, drive

EDIT_METADATA_KEY = "memgpt_edit"
"""Checkpoint metadata naming an edit written from outside a run (``update_state``)."""
BLOCK_EDIT_TOOLS = frozenset(
    {"core_memory_append", "core_memory_replace", "memory_insert", "memory_rethink"}
)
"""The agent's tools that edit a block (``tools/core_memory.py``); each takes a ``label``."""
OUTSIDE_EDIT = "an edit from outside the conversation (a state update)"
SHOWN_ARG_CHARS = 80
"""Characters of each tool argument shown in an edit's description (``calls`` has them all)."""

EditKind = Literal["created", "agent", "update"]


@dataclass(frozen=True)
class BlockVersion:
    """One version of a core memory block, and what made it."""

    label: str
    value: str
    limit: int
    time: str
    """When the edit was made: the block's ``updated_at`` (ISO-8601 UTC)."""
    kind: EditKind
    """'created' (its first version), 'agent' (the agent's tool calls), 'update' (from outside)."""
    edit: str
    """One line saying what made it, e.g. ``core_memory_replace("Lisbon" -> "Porto")``."""
    calls: tuple[dict[str, Any], ...] = field(default=())
    """The agent's tool calls that made it (``{"name", "args"}``), for 'agent' versions."""
    checkpoint_id: str = ""
    saved_at: str = ""
    """When the checkpoint holding it was saved."""


def edit_metadata(description: str) -> dict[str, str]:
    """The ``config["metadata"]`` an ``update_state`` passes to name its edit in the history."""
    return {EDIT_METADATA_KEY: description}


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > SHOWN_ARG_CHARS:
        text = text[: SHOWN_ARG_CHARS - 3] + "..."
    return json.dumps(text, ensure_ascii=False) if isinstance(value, str) else text


def describe_call(name: str, args: Mapping[str, Any]) -> str:
    """An edit tool call as one short line: ``core_memory_replace("old" -> "new")``."""
    if name == "core_memory_replace":
        inner = f"{_shown(args.get('old_content', ''))} -> {_shown(args.get('new_content', ''))}"
    elif name == "memory_rethink":
        inner = f"-> {_shown(args.get('new_memory', ''))}"
    else:
        inner = ", ".join(
            _shown(value) if key == "content" else f"{key}={_shown(value)}"
            for key, value in args.items()
            if key not in {"label", "request_heartbeat"}
        )
    return f"{name}({inner})"


def _lineage(tuples: Sequence[CheckpointTuple]) -> list[CheckpointTuple]:
    """The thread's current branch, oldest first: from its newest checkpoint back through the
    parents. Checkpoints of abandoned branches (a regenerated or edited chat turn, a fork)
    are not part of what the thread remembers."""
    if not tuples:
        return []
    by_id = {t.checkpoint["id"]: t for t in tuples}
    newest = max(by_id)  # checkpoint ids are time-ordered (uuid6): LangGraph's head
    chain: list[CheckpointTuple] = []
    current: CheckpointTuple | None = by_id[newest]
    while current is not None:
        chain.append(current)
        parent = (current.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        current = by_id.get(parent) if parent else None
    return chain[::-1]


def _agent_calls(
    label: str, messages: Sequence[BaseMessage], known_ids: set[str]
) -> list[dict[str, Any]]:
    """The successful edit calls on ``label`` whose results are among ``messages`` but not
    ``known_ids`` (the messages the parent checkpoint had)."""
    requests = {
        call["id"]: call
        for message in messages
        if isinstance(message, AIMessage)
        for call in message.tool_calls
        if call.get("id")
    }
    calls = []
    for message in messages:
        if (
            not isinstance(message, ToolMessage)
            or message.id in known_ids
            or message.name not in BLOCK_EDIT_TOOLS
            or message.status == "error"
        ):
            continue
        call = requests.get(message.tool_call_id)
        if call is not None and call["args"].get("label") == label:
            calls.append({"name": call["name"], "args": dict(call["args"])})
    return calls


def _state_at(graph: Pregel, thread_id: str, checkpoint_id: str) -> Call:
    config = {"configurable": {"thread_id": thread_id, "checkpoint_id": checkpoint_id}}
    return Call(run=lambda: graph.get_state(config), arun=lambda: graph.aget_state(config))


def _list_checkpoints(saver: BaseCheckpointSaver, thread_id: str) -> Call:
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}

    async def collect() -> list[CheckpointTuple]:
        return [t async for t in saver.alist(config)]

    return Call(run=lambda: list(saver.list(config)), arun=collect)


def _run_edits(
    graph: Pregel, thread_id: str, label: str, chain: Sequence[CheckpointTuple], position: int
) -> NodeSteps[list[dict[str, Any]]]:
    """The agent's edit calls on ``label`` that the run step(s) before ``chain[position]``
    made: the messages it has that its parent had not, matched to their tool calls."""
    after = yield _state_at(graph, thread_id, chain[position].checkpoint["id"])
    known: set[str] = set()
    if position > 0:
        before = yield _state_at(graph, thread_id, chain[position - 1].checkpoint["id"])
        known = {m.id for m in before.values.get("messages") or [] if m.id}
    return _agent_calls(label, after.values.get("messages") or [], known)


def block_history_steps(graph: Pregel, thread_id: str, label: str) -> NodeSteps[list[BlockVersion]]:
    """:func:`block_history` as a generator of I/O calls (drive it with ``drive``/``adrive``)."""
    saver = graph.checkpointer
    if not isinstance(saver, BaseCheckpointSaver):
        raise ValueError("the graph has no checkpointer: compile it with one to read history")
    chain = _lineage((yield _list_checkpoints(saver, thread_id)))
    versions: list[BlockVersion] = []
    previous: dict[str, Any] | None = None
    for position, saved in enumerate(chain):
        block = (saved.checkpoint.get("channel_values") or {}).get("blocks", {}).get(label)
        if block is None or block == previous:
            continue
        metadata = saved.metadata or {}
        named = metadata.get(EDIT_METADATA_KEY)
        outside = metadata.get("source") == "update"
        kind: EditKind = "created" if previous is None else "update" if outside else "agent"
        calls: list[dict[str, Any]] = []
        if not outside:
            calls = yield from _run_edits(graph, thread_id, label, chain, position)
        edits = "; ".join(describe_call(c["name"], c["args"]) for c in calls)
        if outside:
            edit = str(named or OUTSIDE_EDIT)
            edit = f"created by {edit}" if kind == "created" else edit
        elif kind == "created":
            # With durability="exit" the turn that created the block saved it once, after
            # its edits too.
            edit = f"created, then {edits}" if edits else "created"
        else:
            edit = edits or "changed during a run (no edit tool call of it in the queue)"
        versions.append(
            BlockVersion(
                label=label,
                value=str(block.get("value", "")),
                limit=int(block.get("limit", 0)),
                time=str(block.get("updated_at") or saved.checkpoint.get("ts", "")),
                kind=kind,
                edit=edit,
                calls=tuple(calls),
                checkpoint_id=saved.checkpoint["id"],
                saved_at=str(saved.checkpoint.get("ts", "")),
            )
        )
        previous = block
    return versions


def block_history(graph: Pregel, thread_id: str, label: str) -> list[BlockVersion]:
    """Every version of block ``label`` in a thread, oldest first, with its time and edit.

    ``graph`` is the compiled agent with its checkpointer (``build_graph(checkpointer=...)``).
    An unknown label or thread gives an empty list.

    Example:
        ```python
        from langgraph_memgpt.memory import block_history

        for version in block_history(agent, "ada", "human"):
            print(version.time, version.kind, version.edit)
        ```
    """
    return drive(block_history_steps(graph, thread_id, label))


async def ablock_history(graph: Pregel, thread_id: str, label: str) -> list[BlockVersion]:
    """:func:`block_history` for async code (same arguments)."""
    if is_sync_only_saver(graph.checkpointer):
        # LangGraph's sync savers have no async reads: their work goes to a worker thread.
        return await asyncio.to_thread(block_history, graph, thread_id, label)
    return await adrive(block_history_steps(graph, thread_id, label))
