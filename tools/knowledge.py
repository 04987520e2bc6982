"""knowledge_graph_search: what the user's knowledge graph knows about an entity.

An adapter over ``memory/knowledge.py``: the graph of entities and relations that the
``consolidate`` graph builds from the conversation. The tool is offered only once that graph
has data for the run's user (``MemGPTState.knowledge_graph``, checked once per turn by
``retrieve_memory``), so a new agent's prompt does not carry a tool that can only say
"nothing yet".
"""

from __future__ import annotations

from langgraph_memgpt.memory.knowledge import format_knowledge, search_knowledge
from langgraph_memgpt.tools.archival import run_context
from langgraph_memgpt.tools.base import AgentTool, ToolContext, ToolFailure, ToolOutcome
from pydantic import BaseModel, Field


class KnowledgeArgs(BaseModel):
    query: str = Field(
        description="An entity's name (a person, place, pet, project...) or what to look for."
    )


def knowledge_graph_search(args: KnowledgeArgs, ctx: ToolContext) -> ToolOutcome:
    if ctx.store is None:
        raise ToolFailure("the knowledge graph is not configured: this run has no store")
    try:
        hits = search_knowledge(ctx.store, run_context(ctx), args.query)
    except ValueError as error:
        raise ToolFailure(str(error)) from None
    return ToolOutcome(text=format_knowledge(hits, args.query))


KNOWLEDGE_GRAPH_SEARCH = AgentTool(
    name="knowledge_graph_search",
    description="Look up what is known about a person, place, pet, project or event: facts, "
    "how it relates to others, and the messages each came from.",
    args_model=KnowledgeArgs,
    run=knowledge_graph_search,
    requires_store=True,
    requires_knowledge=True,
)
