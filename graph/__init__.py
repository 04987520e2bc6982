"""The agent graph: state, runtime context, prompts and the builder."""

from langgraph_memgpt.graph.builder import build_graph, graph
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import Block, MemGPTState
from langgraph_memgpt.nodes.agent import BlockSpec

__all__ = ["Block", "BlockSpec", "Context", "MemGPTState", "build_graph", "graph"]
