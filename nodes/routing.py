"""Conditional edges: memory pressure, tool calls and the heartbeat flag decide the next node."""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import MemGPTState
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.execute_tools import awaits_reply
from langgraph_memgpt.nodes.retrieve import has_work as retrieval_has_work


def nothing_to_answer(state: MemGPTState) -> bool:
    """A turn that starts with nothing new to answer: its user message was answered already.

    That is a message delivered twice: a client re-sending, with the same id, a turn the thread
    has already answered (its first answer or acknowledgement was lost in a crash). The queue
    reducer puts a message with a known id back in its place instead of appending it, so the
    newest user message has its reply and the queue ends with the previous turn's last step.
    Calling the model then would answer the same message again and repeat its memory edits;
    the run ends instead, and its result holds the answer already given. (``step`` is 0 only
    before the turn's first model call: later steps of a turn are never cut short here.)
    """
    queue = state.get("messages") or []
    if not queue:
        return True
    if state.get("step"):
        return False
    return not awaits_reply(queue) and isinstance(queue[-1], AIMessage | ToolMessage)


def make_route_from_start(agent: AgentSpec):
    def route_from_start(
        state: MemGPTState, runtime: Runtime[Context]
    ) -> Literal["retrieve_memory", "check_memory_pressure"]:
        """``retrieve_memory`` when it has work this run, else straight to the pressure check:
        with retrieval off and no knowledge graph the node is a no-op, and skipping it saves a
        superstep of LangGraph's own work every turn (``tests/benchmarks/turn_overhead.py``)."""
        if retrieval_has_work(state, runtime, agent):
            return "retrieve_memory"
        return "check_memory_pressure"

    return route_from_start


def make_route_after_pressure(agent: AgentSpec):
    def route_after_pressure(
        state: MemGPTState, runtime: Runtime[Context]
    ) -> Literal["evict_and_summarize", "reason", "__end__"]:
        if nothing_to_answer(state):
            return END
        ctx = agent.context(runtime)
        budget = state.get("budget")
        if budget and budget["budget"] >= ctx.flush_fraction * ctx.prompt_window:
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
