"""The tools the model calls, as thin adapters over the memory operations (``memory/``).

``base`` is the tool protocol (schemas with ``request_heartbeat``, forgiving argument
parsing, LangChain tools plugged in); ``core_memory``, ``recall`` and ``archival`` parse a
call's arguments, call the operation and word its result for the model.
"""

from langgraph_memgpt.tools.base import AgentTool, ToolContext, ToolFailure, ToolOutcome

__all__ = ["AgentTool", "ToolContext", "ToolFailure", "ToolOutcome"]
