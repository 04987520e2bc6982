"""Graph state: the FIFO message queue, the recursive summary, core memory and accounting.

Everything the agent knows lives here, so every change is checkpointed: the checkpoints of a
thread are its recall memory, and block history / time travel come from LangGraph for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.messages import AnyMessage, BaseMessage, RemoveMessage, convert_to_messages
from langgraph.graph.message import add_messages

TIMESTAMP_KEY = "timestamp"


def utc_now() -> str:
    """ISO-8601 UTC timestamp, second precision: what every message and edit is stamped with."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def message_timestamp(message: BaseMessage) -> str | None:
    return message.additional_kwargs.get(TIMESTAMP_KEY)


def add_timestamped_messages(
    left: Sequence[AnyMessage], right: Sequence[Any] | Any
) -> list[AnyMessage]:
    """``add_messages`` that also stamps each new message with the time it entered the queue.

    The stamp goes into ``additional_kwargs`` (providers' converters ignore unknown keys there),
    and a message that already carries one keeps it, so history can be imported with its dates.
    """
    if not isinstance(right, list | tuple):
        right = [right]
    incoming = convert_to_messages(right)
    now = utc_now()
    for message in incoming:
        if isinstance(message, RemoveMessage):
            continue
        if TIMESTAMP_KEY not in message.additional_kwargs:
            message.additional_kwargs[TIMESTAMP_KEY] = now
    return add_messages(left, incoming)


class Block(TypedDict):
    """One core memory block, always rendered into the prompt."""

    value: str
    limit: int
    description: str
    read_only: bool
    updated_at: str


def merge_blocks(left: dict[str, Block] | None, right: dict[str, Block] | None) -> dict[str, Block]:
    """Blocks are updated per label: a node returns only the blocks it changed."""
    return {**(left or {}), **(right or {})}


class Summary(TypedDict):
    """The recursive summary heading the queue: everything evicted so far, condensed."""

    text: str
    message_count: int
    """How many messages have been folded into the summary since the thread began."""
    updated_at: str


class TokenBudget(TypedDict):
    """Where the context window goes, like Letta's context-window overview (Studio shows it)."""

    context_window: int
    system: int
    core_memory: int
    tools: int
    summary: int
    queue: int
    estimate: int
    """tiktoken estimate of the next prompt (sum of the sections)."""
    budget: int
    """The figure the pressure thresholds use: the estimate scaled by the model-reported ratio."""
    last_call_estimate: NotRequired[int]
    """Estimate of the prompt of the most recent model call..."""
    last_call_reported: NotRequired[int | None]
    """...and what the model reported for it (``usage_metadata.input_tokens``), if anything."""


class InputState(TypedDict):
    """What a caller sends: new messages (usually one user message)."""

    messages: Annotated[list[AnyMessage], add_timestamped_messages]


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
