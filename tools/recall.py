"""conversation_search: find anything ever said in this thread, evicted or not.

An adapter over :func:`langgraph_memgpt.memory.recall.search_steps` (where the index lives and
how it is kept up to date are described there): it finds the run's checkpointer and thread,
leaves out what the model already sees, and formats the page for the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph_memgpt.checkpoints.history import running_checkpointer
from langgraph_memgpt.memory.recall import MAX_LIMIT, Role, format_page, search_steps
from langgraph_memgpt.search.recall_index import SEARCH_TOOL_NAME
from langgraph_memgpt.steps import NodeSteps, adrive, drive
from langgraph_memgpt.tools.base import AgentTool, ToolContext, ToolFailure, ToolOutcome
from pydantic import BaseModel, Field


def current_turn_ids(queue: Sequence[BaseMessage]) -> list[str]:
    """The asking turn: the latest user message and everything after it (already in view)."""
    for index in range(len(queue) - 1, -1, -1):
        if isinstance(queue[index], HumanMessage):
            return [m.id for m in queue[index:] if m.id]
    return []


MAX_QUERY_CHARS = 2_000
"""A search query is words or a question: a longer one is pasted text, which ranks nothing
better and would be echoed back whole in the answer."""


class ConversationSearchArgs(BaseModel):
    query: str = Field(
        default="",
        max_length=MAX_QUERY_CHARS,
        description="Words or a question to look for. Leave empty with a date range to list "
        "what was said in that period.",
    )
    roles: list[Role] | None = Field(
        default=None, description="Only messages from these roles, e.g. ['user']."
    )
    start_date: str | None = Field(default=None, description="ISO date/time, e.g. 2024-05-08.")
    end_date: str | None = Field(
        default=None, description="ISO date/time; a bare date includes that whole day."
    )
    limit: int = Field(default=5, ge=1, le=MAX_LIMIT, description="Results per page.")
    page: int = Field(default=0, ge=0, description="Page number, from 0.")


def _tool_steps(args: ConversationSearchArgs, ctx: ToolContext) -> NodeSteps[ToolOutcome]:
    checkpointer = running_checkpointer(ctx.config)
    thread_id = ((ctx.config or {}).get("configurable") or {}).get("thread_id")
    if checkpointer is None or thread_id is None:
        raise ToolFailure(
            "recall memory is not available: the graph runs without a checkpointer/thread"
        )
    try:
        page = yield from search_steps(
            checkpointer,
            str(thread_id),
            args.query,
            roles=args.roles,
            start_date=args.start_date,
            end_date=args.end_date,
            limit=args.limit,
            page=args.page,
            # The asking turn is in view already; forgotten ids are on abandoned branches.
            exclude_ids=[
                *current_turn_ids(ctx.state.get("messages") or []),
                *(ctx.state.get("forgotten_ids") or []),
            ],
        )
    except ValueError as error:
        raise ToolFailure(str(error)) from None
    return ToolOutcome(text=format_page(page, args.query))


CONVERSATION_SEARCH = AgentTool(
    name=SEARCH_TOOL_NAME,
    description="Search the full history of this conversation (recall memory), including "
    "messages evicted from your context window long ago. Ranks by keywords and meaning; "
    "filter by role and date; page through results.",
    args_model=ConversationSearchArgs,
    run=lambda args, ctx: drive(_tool_steps(args, ctx)),
    arun=lambda args, ctx: adrive(_tool_steps(args, ctx)),
)
