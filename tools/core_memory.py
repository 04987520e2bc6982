"""send_message and the core memory tools: append, replace, insert, rethink.

The tools are adapters over the block edits of ``memory/blocks.py``: each edit checks the
block exists, is writable and stays within its character limit before anything changes. A
refused edit becomes a ToolFailure (its text shown to the model, ending with how to make room
with the tools it has) and leaves the block as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph_memgpt.graph.state import Block
from langgraph_memgpt.memory import blocks as blocks_ops
from langgraph_memgpt.memory.blocks import BlockEditError
from langgraph_memgpt.tools.base import AgentTool, ToolContext, ToolFailure, ToolOutcome
from pydantic import BaseModel, Field


class SendMessageArgs(BaseModel):
    message: str = Field(description="The message to show the user. Calling this ends your turn.")


class AppendArgs(BaseModel):
    label: str = Field(description="Block to edit, e.g. 'human' or 'persona'.")
    content: str = Field(description="Text to add at the end of the block.")


class ReplaceArgs(BaseModel):
    label: str = Field(description="Block to edit.")
    old_content: str = Field(description="Exact text now in the block (must appear once).")
    new_content: str = Field(description="Text to put in its place; empty to delete it.")


class InsertArgs(BaseModel):
    label: str = Field(description="Block to edit.")
    content: str = Field(description="Text to insert as new line(s).")
    line: int = Field(
        default=-1,
        description="Insert after this line number (1 = after the first line, 0 = at the "
        "beginning, -1 = at the end).",
    )


class RethinkArgs(BaseModel):
    label: str = Field(description="Block to rewrite.")
    new_memory: str = Field(description="The complete new value of the block.")


def _room_hint(ctx: ToolContext) -> str:
    """How the model can make room in a full block, with the tools it has."""
    if "archival_memory_insert" in ctx.tool_names:
        return (
            "move details to archival memory with archival_memory_insert, then shorten the "
            "block with memory_rethink"
        )
    return "shorten the block with memory_rethink or core_memory_replace"


def _edit(ctx: ToolContext, edit: Callable[[str], dict[str, Block]]) -> dict[str, Block]:
    try:
        return edit(_room_hint(ctx))
    except BlockEditError as error:
        raise ToolFailure(str(error)) from None


def _size(blocks: dict[str, Block], label: str) -> str:
    block = blocks[label]
    return f"{len(block['value']):,}/{block['limit']:,} characters"


def send_message(args: SendMessageArgs, ctx: ToolContext) -> ToolOutcome:
    if not args.message.strip():
        raise ToolFailure("the message is empty; write something for the user.")
    return ToolOutcome(text="Message sent to the user.", reply=args.message)


def core_memory_append(args: AppendArgs, ctx: ToolContext) -> ToolOutcome:
    blocks = _edit(ctx, lambda hint: blocks_ops.append(ctx.blocks, args.label, args.content, hint))
    return ToolOutcome(
        text=f"Appended to '{args.label}' ({_size(blocks, args.label)}).", blocks=blocks
    )


def core_memory_replace(args: ReplaceArgs, ctx: ToolContext) -> ToolOutcome:
    blocks = _edit(
        ctx,
        lambda hint: blocks_ops.replace(
            ctx.blocks, args.label, args.old_content, args.new_content, hint
        ),
    )
    return ToolOutcome(
        text=f"Replaced text in '{args.label}' ({_size(blocks, args.label)}).", blocks=blocks
    )


def memory_insert(args: InsertArgs, ctx: ToolContext) -> ToolOutcome:
    line = 0

    def edit(hint: str) -> dict[str, Block]:
        nonlocal line
        changed, line = blocks_ops.insert(ctx.blocks, args.label, args.content, args.line, hint)
        return changed

    blocks = _edit(ctx, edit)
    return ToolOutcome(
        text=f"Inserted into '{args.label}' at line {line} ({_size(blocks, args.label)}).",
        blocks=blocks,
    )


def memory_rethink(args: RethinkArgs, ctx: ToolContext) -> ToolOutcome:
    blocks = _edit(
        ctx, lambda hint: blocks_ops.rethink(ctx.blocks, args.label, args.new_memory, hint)
    )
    return ToolOutcome(text=f"Rewrote '{args.label}' ({_size(blocks, args.label)}).", blocks=blocks)


SEND_MESSAGE = AgentTool(
    name="send_message",
    description="Send a message to the user. This is the only way the user sees your words; "
    "it ends your turn.",
    args_model=SendMessageArgs,
    run=send_message,
    heartbeat=False,
)

CORE_MEMORY_TOOLS: tuple[AgentTool, ...] = (
    AgentTool(
        name="core_memory_append",
        description="Add text to the end of a core memory block (e.g. a new fact about the user "
        "to 'human').",
        args_model=AppendArgs,
        run=core_memory_append,
    ),
    AgentTool(
        name="core_memory_replace",
        description="Replace exact text in a core memory block, e.g. to correct an outdated "
        "fact. Use an empty new_content to delete text.",
        args_model=ReplaceArgs,
        run=core_memory_replace,
    ),
    AgentTool(
        name="memory_insert",
        description="Insert text as new line(s) at a given line of a core memory block.",
        args_model=InsertArgs,
        run=memory_insert,
    ),
    AgentTool(
        name="memory_rethink",
        description="Rewrite a whole core memory block, e.g. to reorganize or condense it.",
        args_model=RethinkArgs,
        run=memory_rethink,
    ),
)
