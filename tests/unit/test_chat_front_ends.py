"""What the chat API does with a front end's requests: tasks, regenerate and edit.

The rules are pure functions (``fork_index``, ``background_task``) and the turn gate; the
integration tests (test_http_api.py, test_open_webui.py) run them against real servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph_memgpt.graph.state import CHAT_TURNS_KEPT, ChatTurn, append_turns
from langgraph_memgpt.server.branches import fork_index, text_hash
from langgraph_memgpt.server.errors import ApiError
from langgraph_memgpt.server.tasks import TurnGate, answer_task, background_task
from pydantic import Field


def turns(*spec: tuple[str, str | None]) -> list[ChatTurn]:
    return [
        ChatTurn(id=f"t{i}", text_hash=text_hash(text), chat_id=chat)
        for i, (text, chat) in enumerate(spec)
    ]


def hashes(*texts: str) -> list[str]:
    return [text_hash(text) for text in texts]


@pytest.mark.parametrize(
    ("thread", "earlier", "chat", "expected"),
    [
        # A new chat's first message, and the next message of a chat: appended.
        ([("a", "c1")], [], "c2", None),
        ([("a", "c1")], ["a"], "c1", None),
        # Regenerate the last answer / edit the last message: fork before that turn.
        ([("a", "c1"), ("b", "c1")], ["a"], "c1", 1),
        # Regenerate or edit the chat's first message.
        ([("a", "c1"), ("b", "c1")], [], "c1", 0),
        # The chat's turns are interleaved with nothing of another chat after the fork point.
        ([("x", "c2"), ("a", "c1"), ("b", "c1")], ["a"], "c1", 2),
        # Another chat spoke after the fork point: its turn is never thrown away.
        ([("a", "c1"), ("b", "c1"), ("x", "c2")], ["a"], "c1", None),
        # A turn without a chat id (Studio, the CLI) after the fork point: kept.
        ([("a", "c1"), ("b", "c1"), ("x", None)], ["a"], "c1", None),
        # The client's history is not the chat's (another branch, a stale page): appended.
        ([("a", "c1"), ("b", "c1")], ["z"], "c1", None),
        # No chat id: a client sending only its newest message always appends ...
        ([("a", None), ("b", None)], [], None, None),
        # ... one sending the whole conversation forks where it parts from the thread ...
        ([("a", None), ("b", None)], ["a"], None, 1),
        # ... and one sending a window of recent messages appends.
        ([("a", None), ("b", None), ("c", None)], ["b"], None, None),
    ],
)
def test_fork_index(
    thread: list[tuple[str, str | None]], earlier: list[str], chat: str | None, expected: int | None
) -> None:
    assert fork_index(turns(*thread), hashes(*earlier), chat) == expected


OPEN_WEBUI_TITLE = (
    "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history."
    "\n<chat_history>\nUSER: My cat is called Pepper.\n</chat_history>"
)
OPEN_WEBUI_RAG = (
    "### Task:\nRespond to the user query using the provided context.\n<context>...</context>"
    "\n<user_query>\nWhat does the report say?\n</user_query>"
)


def test_background_tasks_are_told_from_turns() -> None:
    assert background_task([("user", OPEN_WEBUI_TITLE)]) == "task"
    assert background_task([("system", "Be brief."), ("user", "  " + OPEN_WEBUI_TITLE)]) == "task"
    assert background_task([("user", "hi")], metadata={"task": "title_generation"}) == (
        "title_generation"
    )
    # The user's own message wrapped with retrieved documents is a turn.
    assert background_task([("user", OPEN_WEBUI_RAG)]) is None
    assert background_task([("user", "My cat is called Pepper.")]) is None
    # Only the newest user message decides: a chat that once quoted a task prompt goes on.
    assert background_task([("user", OPEN_WEBUI_TITLE), ("user", "And now?")]) is None


class SlowModel(BaseChatModel):
    """Streams its answer a word at a time, 50 ms apart; records starts and cancellations."""

    answer: str = '{"title": "Pepper the Cat"}'
    log: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "slow-test-model"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.answer))])

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.log.append("start")
        try:
            for word in self.answer.split(" "):
                await asyncio.sleep(0.05)
                yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
        except (asyncio.CancelledError, GeneratorExit):
            self.log.append("stopped")
            raise
        self.log.append("done")


async def test_a_task_gives_way_to_a_turn_and_finishes_after_it() -> None:
    gate, model = TurnGate(), SlowModel(log=[])
    task = asyncio.create_task(answer_task("ada", [("user", OPEN_WEBUI_TITLE)], gate, model))
    while model.log != ["start"]:
        await asyncio.sleep(0.01)

    release = gate.enter()  # the user's message arrives while the title is generating
    await asyncio.sleep(0.2)
    assert model.log == ["start", "stopped"]  # the engine is the turn's now
    release()
    release()  # a second release changes nothing

    assert (await task).strip() == model.answer
    assert model.log == ["start", "stopped", "start", "done"]
    assert gate.active == 0


async def test_a_task_that_waits_too_long_gets_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEMGPT_TASK_WAIT_SECONDS", "0.3")
    gate, model = TurnGate(), SlowModel(log=[])
    release = gate.enter()
    with pytest.raises(ApiError, match="waited 0 s") as raised:
        await answer_task("ada", [("user", OPEN_WEBUI_TITLE)], gate, model)
    assert raised.value.status == 503
    assert model.log == []  # never started while the turn ran
    release()


def test_the_turn_record_keeps_the_latest_turns_and_a_longer_chat_appends() -> None:
    record: list[ChatTurn] = []
    for i in range(CHAT_TURNS_KEPT + 5):
        record = append_turns(record, turns((f"m{i}", "c")))
    assert len(record) == CHAT_TURNS_KEPT
    everything = hashes(*(f"m{i}" for i in range(CHAT_TURNS_KEPT + 4)))
    # Regenerating the last message of that chat: its start is no longer on record.
    assert fork_index(record, everything, "c") is None
