"""A scripted chat model for tests and benchmarks: prepared answers, no network.

langchain-core's fake chat models cannot bind tools or report token usage; this one does both
and records every prompt it receives, so a test can drive full agent turns deterministically.

    model = ScriptedChatModel(script=[
        tool_turn(call("core_memory_append", label="human", content="Name: Ada",
                       request_heartbeat=True)),
        reply("Nice to meet you, Ada!"),
    ])
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph_memgpt.nodes.tool_text import CALL_STARTS
from langgraph_memgpt.tokens import count_text, message_text
from pydantic import Field

ScriptItem = AIMessage | Exception | Callable[[list[BaseMessage]], AIMessage]


def call(name: str, **args: Any) -> dict[str, Any]:
    """A tool call as a model would emit it."""
    return {"name": name, "args": args, "id": f"call-{uuid.uuid4().hex[:12]}", "type": "tool_call"}


def tool_turn(*calls: dict[str, Any], content: str = "") -> AIMessage:
    return AIMessage(content=content, tool_calls=list(calls))


def reply(text: str) -> AIMessage:
    """The model answering the user through send_message."""
    return tool_turn(call("send_message", message=text))


class ScriptedChatModel(BaseChatModel):
    """Returns the items of ``script`` in order (an Exception item is raised).

    When the script runs out it answers ``default`` (or raises if there is none). Each answer
    reports ``input_tokens`` = the tiktoken count of the prompt times ``reported_ratio``, as a
    model with a different tokenizer would.
    """

    script: list[Any] = Field(default_factory=list)
    default: Any = None
    """Answer (or function of the prompt) used once the script runs out."""
    reported_ratio: float | None = 1.0
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[Any] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        self.bound_tools = list(tools)
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompts.append(list(messages))
        if self.script:
            item = self.script.pop(0)
        elif self.default is not None:
            item = self.default
        else:
            raise RuntimeError("ScriptedChatModel: script exhausted")
        if isinstance(item, Exception):
            raise item
        answer = item(messages) if callable(item) else item
        answer = answer.model_copy(deep=True)
        answer.id = None
        if self.reported_ratio is not None:
            prompt_tokens = sum(count_text(message_text(m)) + 4 for m in messages)
            prompt_tokens += count_text(json.dumps(self.bound_tools, sort_keys=True, default=str))
            reported = round(prompt_tokens * self.reported_ratio)
            answer.usage_metadata = {
                "input_tokens": reported,
                "output_tokens": 1,
                "total_tokens": reported + 1,
            }
        return ChatResult(generations=[ChatGeneration(message=answer)])


def looks_like_call_json(text: str | None) -> bool:
    """Whether a reply, as the user would read it, is a tool call written as JSON.

    A judge independent of the parser in ``nodes/tool_text.py``: it only asks how the text
    begins and whether it names something, so it also catches what the parser missed.
    """
    stripped = (text or "").strip()
    return stripped.startswith(CALL_STARTS) and '"name"' in stripped
