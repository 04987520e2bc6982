"""execute_tools: run the tool calls of the model's last message and set the heartbeat flag.

Calls run one after another, each seeing the block edits of the calls before it. A bad call
(unknown tool, unreadable or missing arguments, a failed edit) changes nothing, is answered
with a ToolMessage that explains the error, and forces a heartbeat so the model can correct
itself. The turn also continues while the user has had no reply yet, and stops with a system
note after ``max_steps`` chained model calls. A model that keeps failing (every call of
``MAX_FAILED_STEPS`` steps in a row was an error: broken JSON, an unknown tool) gets no more
retries: the turn stops with a one-line message to the user instead of burning ``max_steps``.
"""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import render_block_update, reply_text
from langgraph_memgpt.graph.state import Block, MemGPTState, stamp, utc_now
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.budget import shown_in_conversation
from langgraph_memgpt.steps import Call
from langgraph_memgpt.tools.base import AgentTool, ToolContext, ToolFailure, ToolOutcome

FORCED_HEARTBEAT = " (Heartbeat forced: correct the call and try again.)"
NO_REPLY_NOTE = (
    "You have not replied to the user yet. Reply with send_message (after any other tool "
    "calls you still need)."
)
MAX_FAILED_STEPS = 6
FAILED_STEPS_REPLY = (
    "(The model's tool calls failed {count} times in a row, last: {error} "
    "The turn was stopped; please try again or rephrase.)"
)
STEP_LIMIT_NOTE = (
    "Step limit reached: {steps} chained model calls in this turn, the most allowed "
    "(max_steps). The turn was stopped; continue when the user writes again."
)


def awaits_reply(queue: list[BaseMessage]) -> bool:
    """Whether the current turn began with a user message that has had no reply yet."""
    for message in reversed(queue):
        if isinstance(message, AIMessage) and reply_text(message):
            return False
        if isinstance(message, HumanMessage):
            return True
    return False


def failed_streak(queue: list[BaseMessage]) -> int:
    """How many model steps right before the last one had every tool call answered by an error.

    ``queue[-1]`` is the step being executed; the count stops at the user message that began
    the turn or at the first step with a successful call.
    """
    streak = 0
    answers: list[ToolMessage] = []
    for message in reversed(queue[:-1]):
        if isinstance(message, ToolMessage):
            answers.append(message)
        elif isinstance(message, SystemMessage):
            continue  # notes (no reply yet, memory pressure) sit between steps
        elif (
            isinstance(message, AIMessage) and answers and all(a.status == "error" for a in answers)
        ):
            streak += 1
            answers = []
        else:
            break
    return streak


def _tool_call(tool: AgentTool, args: Any, ctx: ToolContext) -> Call:
    async def arun() -> ToolOutcome:
        if tool.arun is not None:
            return await tool.arun(args, ctx)
        return tool.run(args, ctx)

    return Call(run=lambda: tool.run(args, ctx), arun=arun)


def execute_tools_steps(state: MemGPTState, runtime: Runtime[Context], *, agent: AgentSpec):
    ctx = agent.context(runtime)
    queue = state["messages"]
    request: AIMessage = queue[-1]  # route_after_reason only comes here after an AIMessage
    blocks: dict[str, Block] = dict(state.get("blocks") or {})
    changed: dict[str, Block] = {}
    results: list[BaseMessage] = []
    heartbeat = failed = replied = False
    config = _current_config()

    for call in request.tool_calls:
        tool = agent.tools_by_name.get(call["name"])
        try:
            if tool is None:
                known = ", ".join(agent.tools_by_name)
                raise ToolFailure(f"there is no tool '{call['name']}'. Available tools: {known}.")
            args, wants_heartbeat = tool.parse(call["args"])
            tool_ctx = ToolContext(
                blocks=blocks,
                context=ctx,
                store=runtime.store,
                config=config,
                state=state,
                tool_names=frozenset(agent.tools_by_name),
                tool_call_id=call.get("id"),
            )
            outcome: ToolOutcome = yield _tool_call(tool, args, tool_ctx)
        except ToolFailure as error:
            failed = True
            results.append(_error(call, f"Error: {error}{FORCED_HEARTBEAT}"))
            continue
        except Exception as error:  # a tool's own bug must not end the run
            failed = True
            text = f"Error: {call['name']} failed: {type(error).__name__}: {error}"
            results.append(_error(call, text + FORCED_HEARTBEAT))
            continue
        text = outcome.text
        if outcome.blocks:
            blocks.update(outcome.blocks)
            changed.update(outcome.blocks)
            if ctx.prompt_layout == "cached":
                # The memory note keeps core memory as of the last fold, so the engine's
                # cache of the prompt stays valid; the edit's result shows the new block.
                text += "".join(
                    f"\n{render_block_update(label, block)}"
                    for label, block in outcome.blocks.items()
                )
        replied = replied or outcome.reply is not None
        heartbeat = heartbeat or (tool.heartbeat and bool(wants_heartbeat))
        results.append(ToolMessage(content=text, tool_call_id=call["id"], name=call["name"]))

    for bad in request.invalid_tool_calls:
        failed = True
        detail = bad.get("error") or "the call could not be parsed"
        text = f"Error: {detail}: {str(bad.get('args'))[:500]}{FORCED_HEARTBEAT}"
        results.append(
            ToolMessage(
                content=text,
                tool_call_id=bad["id"] or "invalid",
                name=bad.get("name") or "unknown",
                status="error",
            )
        )

    heartbeat = heartbeat or failed
    all_failed = bool(results) and all(
        isinstance(m, ToolMessage) and m.status == "error" for m in results
    )
    if all_failed and failed_streak(queue) + 1 >= MAX_FAILED_STEPS:
        # Bounded retry of a model that cannot produce a valid call: stop and tell the user
        # (an AIMessage with plain text is what every client shows as the reply).
        heartbeat = False
        last = _first_line(str(results[-1].content).removeprefix("Error: "))
        results.append(
            AIMessage(
                content=FAILED_STEPS_REPLY.format(count=MAX_FAILED_STEPS, error=last),
                id=f"ai-{uuid.uuid4()}",
            )
        )
    elif not heartbeat and not replied and awaits_reply(queue):
        # Small models often forget request_heartbeat after a memory edit; the user is still
        # waiting for an answer, so give the model another step instead of ending silently.
        heartbeat = True
        results.append(SystemMessage(content=NO_REPLY_NOTE))
    steps = state.get("step") or 0
    if heartbeat and steps >= ctx.max_steps:
        heartbeat = False
        results.append(SystemMessage(content=STEP_LIMIT_NOTE.format(steps=steps)))

    now = utc_now()
    update: dict[str, Any] = {
        "messages": [stamp(m, now) for m in results],
        "heartbeat": heartbeat,
    }
    if changed:
        update["blocks"] = changed
        if ctx.prompt_layout == "cached":
            update["prompt_core"] = shown_in_conversation(state.get("prompt_core"), changed)
    return update


def _first_line(text: str, limit: int = 200) -> str:
    text = text.replace(FORCED_HEARTBEAT, "").strip().splitlines()[0] if text.strip() else ""
    return text if len(text) <= limit else text[:limit] + "..."


def _error(call: dict[str, Any], text: str) -> ToolMessage:
    return ToolMessage(content=text, tool_call_id=call["id"], name=call["name"], status="error")


def _current_config() -> RunnableConfig | None:
    """The run's config, passed on to LangChain tools for callbacks and tracing."""
    try:
        return get_config()
    except RuntimeError:  # called outside a graph run (unit tests of the steps)
        return None
