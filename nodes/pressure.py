"""check_memory_pressure: the entry node of every step.

It measures the prompt the next ``reason`` call would send against the context window, sends
the model ONE memory-pressure alert per fill cycle at the warning fraction, and lets the router
send the step to ``evict_and_summarize`` at the flush fraction. It also opens each turn: it
creates the configured core memory blocks of a new thread and resets the step count.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph_memgpt.graph.agent import AgentSpec
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import MemGPTState
from langgraph_memgpt.tokens import counter

PRESSURE_ALERT = (
    "Memory pressure: your context window is {percent}% full. Older messages will soon be "
    "evicted from it (they stay searchable in recall memory, but you will no longer see them). "
    "Save anything important now with core_memory_append, core_memory_replace or "
    "archival_memory_insert."
)


def is_new_turn(state: MemGPTState) -> bool:
    """A step is the start of a turn unless it follows a tool call that asked for a heartbeat."""
    queue = state.get("messages") or []
    return not state.get("heartbeat") or bool(queue and isinstance(queue[-1], HumanMessage))


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

    _, budget = agent.assemble({**state, "blocks": blocks}, runtime.store, ctx)
    window = ctx.context_window
    warned = bool(state.get("pressure_warned"))
    over_warning = budget["budget"] >= ctx.warning_fraction * window
    if over_warning and not warned and budget["budget"] < ctx.flush_fraction * window:
        alert = SystemMessage(
            content=PRESSURE_ALERT.format(percent=round(100 * budget["budget"] / window))
        )
        update["messages"] = [alert]
        update["pressure_warned"] = True
        extra = counter.message(alert)
        budget["queue"] += extra
        budget["estimate"] += extra
        budget["budget"] += extra
    update["budget"] = budget
    return update
