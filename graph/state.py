"""Graph state: the FIFO message queue, the recursive summary, core memory and accounting.

Everything the agent knows lives here, so every change is checkpointed: the checkpoints of a
thread are its recall memory, and block history / time travel come from LangGraph for free.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.messages import AnyMessage, BaseMessage, RemoveMessage, convert_to_messages
from langgraph.channels import DeltaChannel
from langgraph.graph.message import REMOVE_ALL_MESSAGES

TIMESTAMP_KEY = "timestamp"


def utc_now() -> str:
    """ISO-8601 UTC timestamp, second precision: what every message and edit is stamped with."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def message_timestamp(message: BaseMessage) -> str | None:
    return message.additional_kwargs.get(TIMESTAMP_KEY)


def date_words(timestamp: str | None) -> str:
    """'2023-05-08T13:56:00+00:00' -> '1:56 pm on Monday 8 May, 2023' ('' if not a time).

    How the model is shown a stored time, and what the recall index matches date words in
    a query against ('May 2023', 'on Monday'): a small model copies the time it is shown
    into its answer, and people ask and answer with dates in words."""
    try:
        moment = datetime.fromisoformat(timestamp or "")
    except ValueError:
        return ""
    hour = moment.hour % 12 or 12
    half = "am" if moment.hour < 12 else "pm"
    return (
        f"{hour}:{moment.minute:02d} {half} on {moment:%A} {moment.day} {moment:%B}, {moment.year}"
    )


def stamp(message: BaseMessage, when: str | None = None) -> BaseMessage:
    """Give a message the time it entered the queue (kept if it already has one)."""
    message.additional_kwargs.setdefault(TIMESTAMP_KEY, when or utc_now())
    return message


def _with_stable_ids(size: int, last_id: str | None, incoming: list[AnyMessage]) -> None:
    """Give id-less messages an id derived from the queue they join.

    ``add_messages`` would use uuid4, but the queue is a DeltaChannel: a thread's queue is
    rebuilt by replaying its stored writes through this reducer, and caller input is stored
    before any id is assigned, so a random id would differ on every replay (and a later
    RemoveMessage or edit of that message would miss).
    """
    anchor = f"{size}:{last_id or ''}"
    for index, message in enumerate(incoming):
        if message.id is None:
            digest = hashlib.sha1(f"{anchor}:{index}:{message.type}".encode())
            digest.update(str(message.content).encode("utf-8", "replace"))
            message.id = str(uuid.UUID(bytes=digest.digest()[:16], version=5))


def queue_reducer(queue: Sequence[AnyMessage], writes: Sequence[Any]) -> list[AnyMessage]:
    """``add_messages`` semantics over a batch of writes, in one pass (the DeltaChannel reducer).

    A thread's queue is rebuilt at the start of every run by replaying the writes since the
    last snapshot; calling ``add_messages`` once per write would rebuild its id index each
    time. Same rules: a known id replaces the message in place, a new id appends,
    ``RemoveMessage`` deletes (an unknown id is an error), ``REMOVE_ALL_MESSAGES`` clears.
    """
    result: list[AnyMessage | None] = list(queue)
    index = {m.id: i for i, m in enumerate(result) if m is not None}
    for write in writes:
        incoming = convert_to_messages(write if isinstance(write, list | tuple) else [write])
        last = next((m.id for m in reversed(result) if m is not None), None)
        _with_stable_ids(len(index), last, incoming)
        for message in incoming:
            if isinstance(message, RemoveMessage):
                if message.id == REMOVE_ALL_MESSAGES:
                    result, index = [], {}
                    continue
                position = index.pop(message.id, None)
                if position is None:
                    raise ValueError(
                        f"Attempting to delete a message with an ID that doesn't exist "
                        f"('{message.id}')"
                    )
                result[position] = None
            elif message.id in index:
                result[index[message.id]] = message
            else:
                index[message.id] = len(result)
                result.append(message)
        if len(index) < len(result) // 2:  # compact after large evictions
            result = [m for m in result if m is not None]
            index = {m.id: i for i, m in enumerate(result)}
    return [m for m in result if m is not None]


class Block(TypedDict):
    """One core memory block, always rendered into the prompt."""

    value: str
    limit: int
    description: str
    read_only: bool
    updated_at: str


def merge_blocks(
    blocks: dict[str, Block] | None, changed: dict[str, Block] | None
) -> dict[str, Block]:
    """Blocks are updated per label: a node returns only the blocks it changed."""
    return {**(blocks or {}), **(changed or {})}


class Summary(TypedDict):
    """The recursive summary heading the queue: everything evicted so far, condensed."""

    text: str
    message_count: int
    """How many messages have been folded into the summary since the thread began."""
    updated_at: str


class TokenBudget(TypedDict):
    """Where the context window goes, like Letta's context-window overview (Studio shows it)."""

    context_window: int
    output_reserve: NotRequired[int]
    """Tokens kept free for the answer: the prompt may fill ``context_window`` minus this."""
    system: int
    core_memory: int
    tools: int
    summary: int
    queue: int
    retrieved: NotRequired[int]
    """The memories retrieved for the turn's user message (``MemGPTState.retrieved``)."""
    estimate: int
    """tiktoken estimate of the next prompt (sum of the sections)."""
    budget: int
    """The figure the pressure thresholds use: the estimate scaled by the model-reported ratio."""
    last_call_estimate: NotRequired[int]
    """Estimate of the prompt of the most recent model call..."""
    last_call_reported: NotRequired[int | None]
    """...and what the model reported for it (``usage_metadata.input_tokens``), if anything."""
    last_call_cached: NotRequired[int | None]
    """Of the last call's prompt, the tokens the engine served from its cache..."""
    last_call_processed: NotRequired[int | None]
    """...and the tokens it processed anew (what the call's latency follows), if reported."""


class PromptCore(TypedDict):
    """Core memory as the cached prompt layout shows it (see ``graph/prompts.py``).

    The memory note renders ``blocks`` and ``metadata`` as of the last fold; an edit since
    then is shown in the conversation, in the result of the tool call that made it, and
    recorded in ``shown``. When a block's current state is neither, the prompt is refolded.
    """

    blocks: dict[str, Block]
    """The blocks rendered in the memory note."""
    shown: dict[str, Block]
    """Each block as the model last saw it: in the memory note or in an edit's result."""
    metadata: str
    """The memory-metadata section rendered with ``blocks``, its counts as of the fold."""


class RetrievedHit(TypedDict):
    """One memory found for a user message: a message of this thread or an archival passage."""

    source: str
    """'recall' (a message of this conversation) or 'archival' (a passage)."""
    id: str
    """The message's id, or the passage's key."""
    role: str | None
    name: str | None
    timestamp: str | None
    text: str
    similarity: float | None


class RetrievedMemory(TypedDict):
    """What automatic retrieval (``nodes/retrieve.py``) showed the model for one user message.

    Kept for the whole turn, so every model call of the turn sends the same prompt (and the
    engine's cache holds), and replaced at the next user message: the prompt shows only the
    latest turn's memories, right before its user message.
    """

    for_message_id: str
    sources: list[str]
    hits: list[RetrievedHit]
    tokens: int
    """Size of the note that shows them (the budget's ``retrieved`` section)."""
    note: str | None
    """Why fewer or none were shown (no room in the window, a failed search), if so."""


# Checkpoint storage: LangGraph's savers store every non-delta channel in full in every
# checkpoint. The queue is a DeltaChannel, so a checkpoint stores only its new messages (and a
# full snapshot every SNAPSHOT_EVERY updates); storage per turn stays flat however long the
# thread is, and the stored writes of the queue are exactly the recall log. Blocks and summary
# stay plain channels (about 1.5 KB compressed per checkpoint): a DeltaChannel that is rarely
# written is restored by replaying back to its last snapshot, up to thousands of checkpoints.
# The queue is updated 4-5 times a turn, so a snapshot (the whole queue, ~10 KB compressed at
# an 8K window) came every ~12 turns at 50: a third of the checkpoint bytes. At 200 restoring
# replays at most ~45 turns of writes, which the turn benchmark still puts under 10 ms.
SNAPSHOT_EVERY = 200


class ChatTurn(TypedDict):
    """A turn a chat client started (server/branches.py): how its history is matched."""

    id: str
    """The id of the turn's user message."""
    text_hash: str
    chat_id: str | None


CHAT_TURNS_KEPT = 100
"""Plain channels are stored whole in every checkpoint: the record keeps the latest turns
only (a chat longer than this is not forked, its messages are appended)."""


def append_turns(turns: list[ChatTurn] | None, new: list[ChatTurn] | None) -> list[ChatTurn]:
    return [*(turns or []), *(new or [])][-CHAT_TURNS_KEPT:]


def add_ids(ids: list[str] | None, new: list[str] | None) -> list[str]:
    return list(dict.fromkeys([*(ids or []), *(new or [])]))


class InputState(TypedDict):
    """What a caller sends: new messages (usually one user message).

    A chat client's run also sends its turn's record, and a run that continues from an
    earlier checkpoint (regenerate, edit) the ids of the messages of the turns it abandons.
    Both are plain lists in the checkpoints, so a fork starts from the lists of its point.
    """

    messages: Annotated[
        list[AnyMessage], DeltaChannel(queue_reducer, snapshot_frequency=SNAPSHOT_EVERY)
    ]
    chat_turns: NotRequired[Annotated[list[ChatTurn], append_turns]]
    forgotten_ids: NotRequired[Annotated[list[str], add_ids]]
    """Messages of abandoned branches: still in the checkpoints, left out of recall search."""


class MemGPTState(InputState, total=False):
    """The whole agent state. ``messages`` is the FIFO queue of the main context."""

    summary: Summary | None
    blocks: Annotated[dict[str, Block], merge_blocks]
    heartbeat: bool
    """Set by execute_tools when the model asked to be called again (request_heartbeat)."""
    step: int
    """Model calls made so far in the current turn."""
    budget: TokenBudget
    pressure_warned: bool
    """A memory-pressure alert has been sent since the last eviction (one per fill cycle)."""
    prompt_core: PromptCore | None
    """What the cached prompt layout shows of core memory (unused by the classic layout)."""
    retrieved: RetrievedMemory | None
    """The memories automatic retrieval found for the turn's user message (Studio shows it)."""
    knowledge_graph: bool
    """The user's knowledge graph has data (``graph/consolidate.py`` builds it), so the model
    is offered ``knowledge_graph_search``; checked once per turn by ``retrieve_memory``."""
