"""reason: one call of the chat model on the assembled prompt, with its tools bound.

The model's answer is cleaned before it enters the queue: ``<think>`` blocks move out of the
content, tool calls written as text become real calls (``nodes/tool_text.py``: small models
write ``{"name": ..., "arguments": ...}`` instead of calling; raw call JSON is never taken for
the reply), a tool call whose arguments the client could not parse becomes an invalid tool call
(answered with an error by ``execute_tools`` instead of failing the run), so does a call whose
arguments are over the generic size or depth bounds of ``tools/base.py`` (it is kept as a
short description, so a runaway output never enters the checkpoint), and an empty answer
is retried once, with a note saying it was empty (the same prompt again would end at once
again: local models decode greedily). A missing model raises :class:`ModelUnavailableError`
with one clear line. The model is loaded off the event loop: ``"auto"`` asks whether Ollama
answers.

A transient failure of the call (HTTP 5xx, a timeout, a connection dropped mid-answer or
refused) raises :class:`ModelCallFailedError`, which the node's ``RetryPolicy`` (see
``graph/builder.py``) retries with backoff; the last attempt's error reaches the caller as one
line saying what failed and how many attempts were made. The node has no side effect before the
model answers, so re-running it whole is safe.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.tool import invalid_tool_call
from langgraph.runtime import Runtime
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import NOT_FOR_MODEL_KEY, SYSTEM_NOTE_PREFIX
from langgraph_memgpt.graph.state import MemGPTState, stamp
from langgraph_memgpt.models import (
    ModelCallFailedError,
    ModelUnavailableError,
    describe_model_error,
    describe_transient_error,
    usage_cached_tokens,
    usage_input_tokens,
)
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.tool_text import parse_text_calls
from langgraph_memgpt.steps import blocking, model_call
from langgraph_memgpt.tools.base import argument_problem
from pydantic import ValidationError

_THINK = re.compile(r"<think>(.*?)</think>\s*", re.DOTALL)
_FUNCTION_NAME = re.compile(r"Function (\S+) arguments")
OVERFLOW_NOTE = (
    "The current turn no longer fits in the context window ({tokens:,} of the {window:,} "
    "tokens left after the room kept for the answer) and was stopped before calling the "
    "model. Everything is kept in recall memory."
)
TEXT_CALLS_KEY = "tool_calls_from_text"
"""Set on an answer whose tool calls were read from its text: how many, and how many not."""
EMPTY_REPLY = "(The model returned an empty answer twice; please try again.)"
EMPTY_NOTE = "Your answer was empty. Reply to the user now: call send_message."


def _bound(agent: AgentSpec, ctx: Context, runtime: Runtime[Context], knowledge: bool) -> Any:
    model: BaseChatModel = agent.chat_model(ctx)
    return model.bind_tools(agent.tool_schemas(runtime.store, knowledge))


def _prepare(state: MemGPTState, runtime: Runtime[Context], agent: AgentSpec):
    ctx = agent.context(runtime)
    prompt, budget = agent.assemble(state, runtime.store, ctx)
    return ctx, prompt, budget


def _clean(response: BaseMessage, tool_names: Collection[str] = ()) -> AIMessage:
    if not isinstance(response, AIMessage):
        response = AIMessage(content=response.content)
    if isinstance(response.content, str) and "<think>" in response.content:
        thoughts = " ".join(m.strip() for m in _THINK.findall(response.content))
        response.content = _THINK.sub("", response.content).strip()
        response.additional_kwargs.setdefault("reasoning_content", thoughts)
    if response.id is None:
        response.id = f"ai-{uuid.uuid4()}"
    return stamp(_guard_calls(_read_text_calls(response, tool_names)))


def _read_text_calls(response: AIMessage, tool_names: Collection[str]) -> AIMessage:
    """Tool calls the model wrote as text become real calls (or invalid calls the executor
    answers with an error), so raw call JSON is never taken for the reply."""
    if response.tool_calls or response.invalid_tool_calls or not isinstance(response.content, str):
        return response
    found = parse_text_calls(response.content, tool_names)
    if not found.found:
        return response
    response.tool_calls = found.calls
    response.invalid_tool_calls = [
        invalid_tool_call(
            name=None,
            args=text[:2000],
            id=f"call-text-{uuid.uuid4().hex[:12]}",
            error=f"{error}. Write one call as JSON: "
            '{"name": "<tool name>", "arguments": {<the tool\'s arguments>}}',
        )
        for text, error in found.errors
    ]
    response.content = found.text
    marks = {"calls": len(found.calls), "unreadable": len(found.errors)}
    if found.echoed:
        marks["echoed_tool_result"] = True
    response.additional_kwargs[TEXT_CALLS_KEY] = marks
    return response


def _guard_calls(response: AIMessage) -> AIMessage:
    """Turn calls with oversized or deeply nested arguments into short invalid calls."""
    kept, refused = [], []
    for call in response.tool_calls:
        problem = argument_problem(call["args"])
        if problem is None:
            kept.append(call)
            continue
        refused.append(
            invalid_tool_call(
                name=call["name"], args=f"<{problem}>", id=call.get("id"), error=problem
            )
        )
    if refused:
        response.tool_calls = kept
        response.invalid_tool_calls = [*response.invalid_tool_calls, *refused]
    return response


def _is_unparsable_call(error: Exception) -> bool:
    """Did the model emit a tool call whose arguments could not be parsed?

    Depending on the stack this surfaces as langchain's OutputParserException, as the ollama
    client's pydantic ValidationError (arguments sent as a string), as Ollama's own HTTP 500
    "error parsing tool call", as a RecursionError of the client's JSON decoder (arguments
    nested thousands of levels deep), or as a MemoryError: langchain-ollama passes every string
    argument that is not JSON to ``ast.literal_eval``, and CPython's parser gives up with
    MemoryError on a long run of plain words (a 100,000-character query).
    """
    if isinstance(error, OutputParserException | ValidationError | RecursionError | MemoryError):
        return True
    return getattr(error, "status_code", None) == 500 and "tool call" in str(error).lower()


_UNPARSABLE = {
    RecursionError: "the arguments are nested too deeply to parse",
    MemoryError: "the arguments are too long for the model client to parse; send shorter text",
}


def _unparsable_call(error: Exception) -> AIMessage:
    """The client rejected a tool call's JSON: keep it as an invalid call the executor answers."""
    text = str(error)
    match = _FUNCTION_NAME.search(text)
    return stamp(
        AIMessage(
            content="",
            id=f"ai-{uuid.uuid4()}",
            invalid_tool_calls=[
                invalid_tool_call(
                    name=match.group(1) if match else None,
                    args=str(getattr(error, "llm_output", None) or text)[:2000],
                    id=f"call-{uuid.uuid4()}",
                    error=_UNPARSABLE.get(type(error), "the arguments are not valid JSON"),
                )
            ],
        )
    )


def _is_empty(message: AIMessage) -> bool:
    text = message.content if isinstance(message.content, str) else str(message.content)
    return not text.strip() and not message.tool_calls and not message.invalid_tool_calls


def _finish(state: MemGPTState, budget: dict[str, Any], response: AIMessage) -> dict[str, Any]:
    reported = usage_input_tokens(response)
    cached = usage_cached_tokens(response)
    budget = {
        **budget,
        "last_call_estimate": budget["estimate"],
        "last_call_reported": reported,
        # Studio shows these beside the budget: what the engine kept, and what it processed
        # anew (the figure a call's latency follows).
        "last_call_cached": cached,
        "last_call_processed": reported - cached if reported and cached is not None else None,
    }
    return {"messages": [response], "step": (state.get("step") or 0) + 1, "budget": budget}


def _translate(error: Exception, model: Any, attempt: int, max_attempts: int) -> Exception:
    inner = getattr(model, "bound", model)
    transient = describe_transient_error(error, inner)
    if transient:
        outcome = "giving up" if attempt >= max_attempts else "retrying"
        return ModelCallFailedError(
            f"{transient}; attempt {attempt} of {max_attempts} failed, {outcome}", attempt
        )
    explanation = describe_model_error(error, inner)
    return ModelUnavailableError(explanation) if explanation else error


def is_transient_model_error(error: Exception) -> bool:
    """``retry_on`` of the reason node's RetryPolicy."""
    return isinstance(error, ModelCallFailedError)


def _attempt(runtime: Runtime[Context]) -> int:
    info = getattr(runtime, "execution_info", None)
    return getattr(info, "node_attempt", None) or 1


def reason_steps(
    state: MemGPTState, runtime: Runtime[Context], *, agent: AgentSpec, max_attempts: int = 1
):
    ctx, prompt, budget = _prepare(state, runtime, agent)
    if budget["budget"] > ctx.prompt_window:
        # Eviction never touches the latest user message and the running tool chain; if
        # those alone overflow, stop the turn rather than send a prompt that cannot fit.
        note = SystemMessage(
            content=OVERFLOW_NOTE.format(tokens=budget["budget"], window=ctx.prompt_window)
        )
        return {"messages": [stamp(note)], "heartbeat": False, "budget": budget}
    # Loading may do I/O (asking whether Ollama answers, for the "auto" model): off the loop.
    knowledge = bool(state.get("knowledge_graph"))
    model = yield blocking(_bound, agent, ctx, runtime, knowledge)
    for attempt in range(2):
        if attempt:
            # Asking the same prompt again is no retry for a local model decoding greedily:
            # it ends at once again (seen from Qwen2.5-Coder-1.5B). Say what was wrong.
            prompt = [*prompt, HumanMessage(content=f"{SYSTEM_NOTE_PREFIX} {EMPTY_NOTE}")]
        try:
            response = _clean((yield model_call(model, prompt)), agent.tools_by_name)
        except Exception as error:
            if not _is_unparsable_call(error):
                raise _translate(error, model, _attempt(runtime), max_attempts) from None
            response = _unparsable_call(error)
        if not _is_empty(response):
            return _finish(state, budget, response)
    fallback = AIMessage(
        content=EMPTY_REPLY, id=f"ai-{uuid.uuid4()}", additional_kwargs={NOT_FOR_MODEL_KEY: True}
    )
    return _finish(state, budget, stamp(fallback))


def prompt_for_inspection(
    state: MemGPTState, runtime: Runtime[Context], agent: AgentSpec
) -> list[BaseMessage]:
    """The exact prompt ``reason`` would send now (for debugging and tests)."""
    return _prepare(state, runtime, agent)[1]
