"""Conditional edges: memory pressure, tool calls and the heartbeat flag decide the next node."""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import AIMessage
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph_memgpt.graph.agent import AgentSpec
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import MemGPTState


def make_route_after_pressure(agent: AgentSpec):
    def route_after_pressure(
        state: MemGPTState, runtime: Runtime[Context]
    ) -> Literal["evict_and_summarize", "reason"]:
        ctx = agent.context(runtime)
        budget = state.get("budget")
        if budget and budget["budget"] >= ctx.flush_fraction * ctx.context_window:
            return "evict_and_summarize"
        return "reason"

    return route_after_pressure


def route_after_reason(state: MemGPTState) -> Literal["execute_tools", "__end__"]:
    """Tool calls (valid or not) go to the executor; a plain reply ends the turn."""
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and (last.tool_calls or last.invalid_tool_calls):
        return "execute_tools"
    return END


def route_after_tools(state: MemGPTState) -> Literal["check_memory_pressure", "__end__"]:
    """The heartbeat flag: set means call the model again (through the pressure check)."""
    return "check_memory_pressure" if state.get("heartbeat") else END
