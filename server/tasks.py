"""Background tasks: a front end's own requests (titles, tags, follow-ups) are not turns.

Open WebUI asks the chat model for a chat title, tags, follow-up suggestions, search queries
and autocompletions, with prompts that begin ``### Task:`` (its default templates; other
front ends send similar requests and can mark them with the OpenAI ``metadata`` field's
``task`` key). Taken as the user's turn, such a prompt would be stored in the user's memory
as if they had said it, its answer would teach the agent to reply in JSON, and the real
message sent a moment later would find the thread busy.

So a task is answered by the agent's chat model directly, with the request's own messages,
outside the graph: no message is stored, no block edited, nothing enters recall memory.

A task never delays a turn. The model server is one (a local engine answers one request at a
time), so tasks run only while no turn is in flight in this server process; a turn that
arrives while a task is generating stops it (closing the stream stops the engine's
generation), and the task starts again once the turns are done. A task that waits past
``MEMGPT_TASK_WAIT_SECONDS`` gets a 503; Open WebUI then keeps its default title.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph_memgpt.errors import error_line
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.models import env_seconds, load_chat_model
from langgraph_memgpt.server.errors import ApiError

TASK_PROMPT_PREFIX = "### Task:"
"""How Open WebUI's task prompt templates begin (title, tags, follow-ups, queries, ...)."""
RAG_QUERY_MARK = "<user_query>"
"""Open WebUI's retrieval template also begins '### Task:', but wraps the user's own message
(with the documents found for it) in this tag: that request is a turn."""
TASK_WAIT_ENV = "MEMGPT_TASK_WAIT_SECONDS"
DEFAULT_TASK_WAIT_SECONDS = 600.0


def task_wait_seconds() -> float:
    return env_seconds(TASK_WAIT_ENV, DEFAULT_TASK_WAIT_SECONDS)


def background_task(messages: Sequence[tuple[str, str]], metadata: Any = None) -> str | None:
    """The task a request is (a short name), or None when it is a turn of the conversation.

    ``messages`` are (role, text) pairs. A request is a task when its ``metadata`` names one
    (``{"task": "title_generation"}``) or its newest user message is a task prompt.

    Example:
        ```python
        background_task([("user", "### Task:\\nGenerate a concise title ...")])  # "task"
        background_task([("user", "My cat is called Pepper.")])  # None
        ```
    """
    if isinstance(metadata, dict) and isinstance(metadata.get("task"), str) and metadata["task"]:
        return metadata["task"]
    newest = next((text for role, text in reversed(messages) if role == "user"), "")
    newest = newest.lstrip()
    if newest.startswith(TASK_PROMPT_PREFIX) and RAG_QUERY_MARK not in newest:
        return "task"
    return None


class TurnGate:
    """Counts the turns in flight in this process; tasks run only when there are none.

    ``enter()`` counts a turn from its request to the end of its run and returns its release
    (safe to call twice); a generating task gives way when ``wait_turn()`` returns.
    """

    def __init__(self) -> None:
        self.active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._started = asyncio.Event()

    def enter(self) -> Callable[[], None]:
        self.active += 1
        self._idle.clear()
        self._started.set()
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.active -= 1
            if self.active == 0:
                self._idle.set()
                self._started.clear()

        return release

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def wait_turn(self) -> None:
        await self._started.wait()


GATE = TurnGate()


def as_messages(messages: Sequence[tuple[str, str]]) -> list[BaseMessage]:
    kinds = {"system": SystemMessage, "developer": SystemMessage, "assistant": AIMessage}
    return [kinds.get(role, HumanMessage)(content=text) for role, text in messages if text]


def task_model(user_id: str) -> BaseChatModel:
    """The agent's chat model as the server's environment configures it (may probe Ollama)."""
    ctx = Context(user_id=user_id)
    return load_chat_model(
        ctx.model,
        context_window=ctx.context_window,
        base_url=ctx.ollama_base_url,
        max_output_tokens=ctx.output_reserve,
    )


async def _generate(model: BaseChatModel, prompt: list[BaseMessage]) -> str:
    # Streamed: cancelling closes the stream, and the engine stops generating at once.
    parts = [chunk.text async for chunk in model.astream(prompt)]
    return "".join(parts)


async def answer_task(
    user_id: str,
    messages: Sequence[tuple[str, str]],
    gate: TurnGate = GATE,
    model: BaseChatModel | None = None,
) -> str:
    """The model's answer to a task prompt, generated while no turn needs the model.

    ``model``: the agent's model from the server's environment unless given.
    """
    prompt = as_messages(messages)
    deadline = time.monotonic() + task_wait_seconds()
    try:
        if model is None:
            model = await asyncio.to_thread(task_model, user_id)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            await asyncio.wait_for(gate.wait_idle(), remaining)
            generating = asyncio.ensure_future(_generate(model, prompt))
            interrupted = asyncio.ensure_future(gate.wait_turn())
            done, _ = await asyncio.wait(
                {generating, interrupted},
                timeout=max(deadline - time.monotonic(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            interrupted.cancel()
            if generating in done:
                return generating.result()
            generating.cancel()  # a turn began (or time is up): the engine is the turn's
            await asyncio.gather(generating, return_exceptions=True)
    except TimeoutError:
        raise ApiError(
            503,
            f"this background task waited {task_wait_seconds():.0f} s for the agent's turns "
            f"to finish; send it again later ({TASK_WAIT_ENV} sets the wait)",
            type="server_busy",
        ) from None
    except ApiError:
        raise
    except Exception as error:  # any model failure is the task's 502, not a crash
        raise ApiError(
            502, f"the model failed on a background task: {error_line(error)}", type="agent_error"
        ) from None
