"""langgraph-memgpt: MemGPT-style virtual context management as a LangGraph graph.

from langgraph_memgpt import MemGPTAgent           # the agent as one object, on local files
from langgraph_memgpt import graph                 # for langgraph dev / LangGraph Platform
from langgraph_memgpt import build_graph, Context  # to compile with your own persistence
"""

from langgraph_memgpt.agent_api import MemGPTAgent
from langgraph_memgpt.graph import Block, BlockSpec, Context, MemGPTState, build_graph, graph
from langgraph_memgpt.models import ModelUnavailableError

__all__ = [
    "Block",
    "BlockSpec",
    "Context",
    "MemGPTAgent",
    "MemGPTState",
    "ModelUnavailableError",
    "build_graph",
    "graph",
]
