"""The agent graph: the package's public face.

``state``, ``context`` and ``prompts`` are the bottom layer every other module may import (pure:
no I/O, no imports from the rest of the package); ``builder`` is near the top, wiring the
nodes into the compiled graph.
"""

from langgraph_memgpt.graph.builder import build_graph, graph
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import Block, MemGPTState
from langgraph_memgpt.nodes.agent import BlockSpec

__all__ = ["Block", "BlockSpec", "Context", "MemGPTState", "build_graph", "graph"]
