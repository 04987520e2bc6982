"""Regenerate and edit: continue the user's thread from where the client's history parts.

Chat front ends resend the whole conversation with every request, and let the user
regenerate an answer or edit an earlier message; both send a history whose newest user
message is *not* a new turn after everything the thread holds. Appending it would put the
same question in the thread twice (regenerate) or answer an edited message after the text it
replaced (edit). Instead, the run continues from the checkpoint just before the turn where the
two histories part: LangGraph's time travel (a run with ``checkpoint_id`` forks the thread
there), so the agent's queue, core memory blocks and summary are those of the branch the user
sees. Archival passages are outside the checkpoints and stay (the README says so); the
abandoned branch's messages stay in the checkpoints, and recall search leaves them out
(``forgotten_ids`` in the state).

Each turn the chat API starts records itself in the state (``chat_turns``: the id of its
user message, the hash of its text, the client's chat id) and tags its run's checkpoints with
the turn id (run config metadata, which LangGraph copies into every checkpoint of the run).
A fork starts from the turn's first checkpoint (``source: "input"``), whose state is the
state just before the turn; the lists in the state are then the fork point's.

The rule, as a pure function (``fork_index``) of the branch's turns and the request:

- the client's earlier user messages must be *this chat's* turns from its first one (a chat
  id tells which turns are the chat's; without one, the whole thread is the chat);
- the thread has turns the client's history lacks: the run forks before the first of them
  (the state keeps the latest ``CHAT_TURNS_KEPT`` turns: a longer chat is never forked);
- otherwise, or if any turn after that point belongs to another chat or was started by
  another client (forking would throw away a conversation the user still sees elsewhere),
  the message is appended as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langgraph_memgpt.graph.state import ChatTurn
from langgraph_sdk.client import LangGraphClient

TURN_KEY = "memgpt_turn"
"""Run config (and so checkpoint) metadata: the id of the turn the run answers."""


def text_hash(text: str) -> str:
    """A short stable digest of a user message (kept in the state instead of the text)."""
    return hashlib.sha256(text.strip().encode()).hexdigest()[:16]


def fork_index(
    turns: Sequence[ChatTurn], earlier: Sequence[str], chat_id: str | None
) -> int | None:
    """The index in ``turns`` (oldest first) of the first turn to abandon; None: append.

    ``earlier`` are the hashes of the client's user messages before its newest one.

    Invariants: the kept turns ``turns[:index]`` hold every one of ``earlier``, in order, as
    this chat's turns from its start; no turn of another chat (or of a client that sent no
    chat id, when this one did) is abandoned; a client that sends only its newest message
    and no chat id always appends.

    Example:
        ```python
        turns = [ChatTurn(id="t1", text_hash=text_hash("hi"), chat_id="c")]
        fork_index(turns, [], "c")  # 0: the chat's first message, regenerated or edited
        fork_index(turns, [text_hash("hi")], "c")  # None: a new message after "hi"
        ```
    """
    if chat_id is None and not earlier:
        return None
    mine = [i for i, turn in enumerate(turns) if chat_id is None or turn["chat_id"] == chat_id]
    if len(earlier) >= len(mine):
        return None
    if [turns[i]["text_hash"] for i in mine[: len(earlier)]] != list(earlier):
        return None
    first = mine[len(earlier)]
    if chat_id is not None and any(turn["chat_id"] != chat_id for turn in turns[first:]):
        return None
    return first


def newest_user_id(messages: Sequence[dict[str, Any]]) -> str | None:
    """The id of the newest user message in a queue as the API returns it (dicts)."""
    for message in reversed(messages):
        if message.get("type") == "human":
            return message.get("id")
    return None


@dataclass(frozen=True)
class ForkPoint:
    """Where a turn continues from and the messages the turns it abandons left behind."""

    checkpoint_id: str
    forgotten_ids: list[str]


async def find_fork(
    client: LangGraphClient,
    thread_id: str,
    earlier: Sequence[str],
    chat_id: str | None,
) -> ForkPoint | None:
    """Where a chat client's newest message continues the user's thread (None: at its end).

    Called while the thread is idle (a busy thread's state is about to change: its message
    is appended behind the running turn).
    """
    state = await client.threads.get_state(
        thread_id, select=["values.chat_turns", "values.messages", "values.forgotten_ids"]
    )
    values = state.get("values") or {}
    turns: list[ChatTurn] = values.get("chat_turns") or []
    queue: list[dict[str, Any]] = values.get("messages") or []
    index = fork_index(turns, earlier, chat_id)
    # A turn from elsewhere (Studio, the CLI) after the last chat turn is never abandoned.
    if index is None or newest_user_id(queue) != turns[-1]["id"]:
        return None
    found = await client.threads.get_history(
        thread_id, limit=1, metadata={"source": "input", TURN_KEY: turns[index]["id"]}
    )
    if not found:
        return None  # its checkpoints are gone (a pruned thread): append instead
    point = found[0]
    kept = {m.get("id") for m in (point.get("values") or {}).get("messages") or []}
    # The head's forgotten ids too: branches abandoned earlier stay out of recall search.
    # Messages evicted on the abandoned turns are in neither queue and are missed (README).
    left = [m["id"] for m in queue if m.get("id") and m["id"] not in kept]
    return ForkPoint(
        checkpoint_id=point["checkpoint"]["checkpoint_id"],
        forgotten_ids=[*(values.get("forgotten_ids") or []), *left],
    )
