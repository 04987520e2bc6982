"""check_memory_pressure: the entry node of every step.

It measures the prompt the next ``reason`` call would send against the context window, sends
the model ONE memory-pressure alert per fill cycle at the warning fraction, and lets the router
send the step to ``evict_and_summarize`` at the flush fraction. It also opens each turn: it
creates the configured core memory blocks of a new thread, resets the step count, stamps new
input with its time, and cuts a message too large for the window down to a marked excerpt.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import MemGPTState, TokenBudget, message_timestamp, stamp
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.budget import core_is_current, fold_core
from langgraph_memgpt.nodes.routing import nothing_to_answer
from langgraph_memgpt.tokens import counter


def is_pressure_alert(message: BaseMessage) -> bool:
    return isinstance(message, SystemMessage) and str(message.content).startswith(
        PRESSURE_ALERT.split("{", 1)[0]
    )


PRESSURE_ALERT = (
    "Memory pressure: your context window is {percent}% full. Older messages will soon be "
    "evicted from it (they stay searchable in recall memory, but you will no longer see them). "
    "Save anything important now with core_memory_append, core_memory_replace or "
    "archival_memory_insert."
)
CUT_MARKER = (
    "\n[... message cut to fit the context window: showing the first {shown:,} of {total:,} "
    "characters. The full text is kept in recall memory; use conversation_search to find "
    "the rest.]"
)
TRUNCATED_KEY = "truncated_from_chars"


class ContextWindowTooSmallError(ValueError):
    """The fixed part of the prompt alone does not fit the configured window."""


def is_new_turn(state: MemGPTState) -> bool:
    """A step is the start of a turn unless it follows a tool call that asked for a heartbeat."""
    queue = state.get("messages") or []
    return not state.get("heartbeat") or bool(queue and isinstance(queue[-1], HumanMessage))


def fixed_tokens(budget: TokenBudget) -> int:
    """Tokens the prompt needs before any queued message."""
    return budget["system"] + budget["core_memory"] + budget["tools"] + budget["summary"]


def max_message_tokens(ctx: Context, budget: TokenBudget) -> int:
    """The largest single message the queue keeps whole: half of the room left for the queue."""
    room = ctx.flush_fraction * ctx.prompt_window - fixed_tokens(budget)
    return max(64, int(room // 2))


def cut_to_fit(message: BaseMessage, max_tokens: int) -> BaseMessage | None:
    """A copy of an oversized message cut to ``max_tokens`` with a marker, or None if it fits.

    Only the queue's copy is cut (same id, so it replaces the queued message); the original
    stays in the thread's checkpoints, i.e. in recall memory. Tool calls in the queue have
    already run when this is checked, so their long string arguments can be cut too.
    """
    tokens = counter.message(message)
    if tokens <= max_tokens or TRUNCATED_KEY in message.additional_kwargs:
        return None
    share = max(0.0, (max_tokens - 60) / tokens)
    update: dict[str, Any] = {}
    content = message.content
    original = len(content) if isinstance(content, str) else 0
    if isinstance(content, str) and content:
        keep = max(1, int(len(content) * share))
        update["content"] = content[:keep] + CUT_MARKER.format(shown=keep, total=len(content))
    if isinstance(message, AIMessage) and message.tool_calls:
        calls = []
        for tool_call in message.tool_calls:
            args = {}
            for name, value in tool_call["args"].items():
                if isinstance(value, str) and len(value) > 200:
                    keep = max(200, int(len(value) * share))
                    original += len(value)
                    value = value[:keep] + CUT_MARKER.format(shown=keep, total=len(value))
                args[name] = value
            calls.append({**tool_call, "args": args})
        update["tool_calls"] = calls
    if not update:
        return None
    cut = message.model_copy(update=update)
    cut.additional_kwargs = {**message.additional_kwargs, TRUNCATED_KEY: original}
    return cut


def check_memory_pressure(
    state: MemGPTState, runtime: Runtime[Context], *, agent: AgentSpec
) -> dict[str, Any]:
    ctx = agent.context(runtime)
    update: dict[str, Any] = {}
    blocks = dict(state.get("blocks") or {})
    if missing := agent.missing_blocks(ctx, blocks):
        blocks.update(missing)
        update["blocks"] = missing
    if is_new_turn(state):
        update["step"] = 0
        update["heartbeat"] = False
    core = state.get("prompt_core")
    if ctx.prompt_layout == "cached" and not core_is_current(core, blocks):
        core = fold_core({**state, "blocks": blocks}, agent.archival_count(runtime.store, ctx))
        update["prompt_core"] = core

    budget = agent.measure({**state, "blocks": blocks, "prompt_core": core}, runtime.store, ctx)
    fixed = fixed_tokens(budget)
    if fixed >= ctx.flush_fraction * ctx.prompt_window:
        raise ContextWindowTooSmallError(
            f"the prompt needs {fixed:,} tokens before any message (system instructions "
            f"{budget['system']:,} + core memory {budget['core_memory']:,} + tool schemas "
            f"{budget['tools']:,} + summary {budget['summary']:,}), more than the context "
            f"window of {ctx.context_window:,} tokens allows once {ctx.output_reserve:,} are "
            f"kept for the answer (flush_fraction {ctx.flush_fraction}); raise context_window "
            "or shorten the core memory blocks"
        )

    # New input arrives without a time; stamping here (not in the reducer) keeps the queue's
    # replay deterministic. Same id, so the stamped copy replaces the original in place.
    replaced: dict[str, BaseMessage] = {}
    limit = max_message_tokens(ctx, budget)
    for message in state["messages"]:
        fixed_message = cut_to_fit(message, limit)
        if fixed_message is None and not message_timestamp(message):
            fixed_message = message.model_copy(
                update={"additional_kwargs": dict(message.additional_kwargs)}
            )
        if fixed_message is not None:
            replaced[message.id] = stamp(fixed_message)
    if replaced:
        queue = [replaced.get(m.id, m) for m in state["messages"]]
        update["messages"] = list(replaced.values())
        budget = agent.measure(
            {**state, "blocks": blocks, "prompt_core": core, "messages": queue}, runtime.store, ctx
        )

    window = ctx.prompt_window
    warned = bool(state.get("pressure_warned"))
    over_warning = budget["budget"] >= ctx.warning_fraction * window
    # A message delivered twice ends the run before the model (routing.nothing_to_answer); an
    # alert added now would sit after the answer already given and make it look unanswered.
    if (
        over_warning
        and not warned
        and budget["budget"] < ctx.flush_fraction * window
        and not nothing_to_answer({**state, "step": update.get("step", state.get("step"))})
    ):
        alert = SystemMessage(
            content=PRESSURE_ALERT.format(percent=round(100 * budget["budget"] / window))
        )
        update["messages"] = [*update.get("messages", []), stamp(alert)]
        update["pressure_warned"] = True
        extra = counter.message(alert)
        budget["queue"] += extra
        budget["estimate"] += extra
        budget["budget"] += extra
    update["budget"] = budget
    return update
