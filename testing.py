"""A scripted chat model for tests and benchmarks: prepared answers, no network.

langchain-core's fake chat models cannot bind tools or report token usage; this one does both
and records every prompt it receives, so a test can drive full agent turns deterministically.

    model = ScriptedChatModel(script=[
        tool_turn(call("core_memory_append", label="human", content="Name: Ada",
                       request_heartbeat=True)),
        reply("Nice to meet you, Ada!"),
    ])

``prompt_prefix_share`` measures how much of each prompt a local engine could serve from its
KV cache, without running one: see its docstring.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph_memgpt.nodes.tool_text import CALL_STARTS
from langgraph_memgpt.tokens import Encoding, count_text, load_encoding, message_text
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


# Qwen2.5's chat template (tokenizer_config.json of Qwen/Qwen2.5-*-Instruct), the family the
# packaged local models use: the tool schemas go in the system turn, AFTER the system content.
_QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
_QWEN_TOOLS_HEAD = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_QWEN_TOOLS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)


@dataclass(frozen=True)
class PrefixShare:
    """How much of a run's prompt tokens an engine's prompt cache could have reused."""

    calls: int
    prompt_tokens: int
    """All prompts' tokens, summed."""
    cached_tokens: int
    """Sum over calls of the tokens each prompt shares, from its start, with the previous one."""

    @property
    def share(self) -> float:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    @property
    def reprocessed_per_call(self) -> float:
        """Tokens an engine must evaluate per call, on average: the part past the shared prefix."""
        return (self.prompt_tokens - self.cached_tokens) / self.calls if self.calls else 0.0


def _content_text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def render_chatml(messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]]) -> str:
    """``messages`` and ``tools`` as Qwen2.5's chat template lays them out (approximately).

    Enough for cache accounting: the same roles, markers and order as the real template, the
    schemas one JSON object a line in the system turn, tool calls in ``<tool_call>`` tags and
    consecutive tool results merged into one user turn, ending with the generation prompt.
    """
    parts: list[str] = []
    rest = list(messages)
    system = _QWEN_DEFAULT_SYSTEM
    if rest and isinstance(rest[0], SystemMessage):
        system = _content_text(rest.pop(0))
    if tools:
        schemas = "".join("\n" + json.dumps(tool, ensure_ascii=False) for tool in tools)
        system += _QWEN_TOOLS_HEAD + schemas + _QWEN_TOOLS_TAIL
    parts.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    for i, message in enumerate(rest):
        text = _content_text(message)
        if isinstance(message, ToolMessage):
            opens = i == 0 or not isinstance(rest[i - 1], ToolMessage)
            closes = i == len(rest) - 1 or not isinstance(rest[i + 1], ToolMessage)
            parts.append(
                ("<|im_start|>user" if opens else "")
                + f"\n<tool_response>\n{text}\n</tool_response>"
                + ("<|im_end|>\n" if closes else "")
            )
        elif isinstance(message, AIMessage):
            turn = "<|im_start|>assistant" + (f"\n{text}" if text else "")
            for tool_call in message.tool_calls:
                name = json.dumps(tool_call["name"], ensure_ascii=False)
                args = json.dumps(tool_call["args"], ensure_ascii=False)
                turn += f'\n<tool_call>\n{{"name": {name}, "arguments": {args}}}\n</tool_call>'
            parts.append(turn + "<|im_end|>\n")
        else:
            if isinstance(message, SystemMessage | HumanMessage):
                role = "system" if isinstance(message, SystemMessage) else "user"
            else:  # a ChatMessage names its role; anything else by its type
                role = getattr(message, "role", None) or message.type
            parts.append(f"<|im_start|>{role}\n{text}<|im_end|>\n")
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _cl100k() -> Encoding:
    encoding = load_encoding()
    if encoding is None:
        # No offline data: let tiktoken fetch it (or fail), since a chars/4 estimate has no
        # tokens to compare.
        import tiktoken

        return tiktoken.get_encoding("cl100k_base")
    return encoding


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def prompt_prefix_share(
    prompts: Sequence[Sequence[BaseMessage]], tools: Sequence[dict[str, Any]]
) -> PrefixShare:
    """How much of each prompt an engine that keeps only the previous prompt could reuse.

    llama.cpp and Ollama keep the last prompt's KV cache and evaluate a new prompt from its
    first token that differs, so what a prompt layout costs on a local engine is the tokens
    past the common prefix of consecutive prompts. Each prompt is rendered as Qwen2.5's chat
    template would (:func:`render_chatml`) and tokenized with cl100k_base, a stand-in for the
    model's tokenizer: the share is close, and it needs no engine. The first call counts as
    nothing cached, as on a cold engine.
    """
    encoding = _cl100k()
    previous: list[int] = []
    prompt_tokens = cached_tokens = 0
    for prompt in prompts:
        tokens = encoding.encode(render_chatml(prompt, tools), disallowed_special=())
        prompt_tokens += len(tokens)
        cached_tokens += _common_prefix(previous, tokens)
        previous = tokens
    return PrefixShare(calls=len(prompts), prompt_tokens=prompt_tokens, cached_tokens=cached_tokens)
