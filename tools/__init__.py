"""Tools the model calls: send_message and the core memory editors (more in later modules)."""

from langgraph_memgpt.tools.base import AgentTool, ToolContext, ToolFailure, ToolOutcome

__all__ = ["AgentTool", "ToolContext", "ToolFailure", "ToolOutcome"]
