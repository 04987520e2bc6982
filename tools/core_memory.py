"""send_message and the core memory tools: append, replace, insert, rethink.

Each edit checks the block exists, is writable and stays within its character limit before
anything changes; a failed edit raises ToolFailure and leaves the block as it was.
"""

from __future__ import annotations

from html import unescape

from langgraph_memgpt.graph.state import Block, utc_now
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


def _writable_block(ctx: ToolContext, label: str) -> Block:
    block = ctx.blocks.get(label)
    if block is None:
        known = ", ".join(sorted(ctx.blocks)) or "none"
        raise ToolFailure(f"there is no memory block '{label}'. Blocks: {known}.")
    if block["read_only"]:
        raise ToolFailure(f"memory block '{label}' is read-only and cannot be edited.")
    return block


def _updated(ctx: ToolContext, label: str, block: Block, value: str) -> dict[str, Block]:
    if len(value) > block["limit"]:
        advice = (
            "move details to archival memory with archival_memory_insert, then shorten the "
            "block with memory_rethink"
            if "archival_memory_insert" in ctx.tool_names
            else "shorten the block with memory_rethink or core_memory_replace"
        )
        raise ToolFailure(
            f"block '{label}' would have {len(value):,} characters, over its limit of "
            f"{block['limit']:,}; nothing was changed. To make room, {advice}."
        )
    return {label: {**block, "value": value, "updated_at": utc_now()}}


def send_message(args: SendMessageArgs, ctx: ToolContext) -> ToolOutcome:
    if not args.message.strip():
        raise ToolFailure("the message is empty; write something for the user.")
    return ToolOutcome(text="Message sent to the user.", reply=args.message)


def core_memory_append(args: AppendArgs, ctx: ToolContext) -> ToolOutcome:
    block = _writable_block(ctx, args.label)
    if not args.content.strip():
        raise ToolFailure("content is empty; nothing to append.")
    value = f"{block['value']}\n{args.content}" if block["value"] else args.content
    blocks = _updated(ctx, args.label, block, value)
    return ToolOutcome(
        text=f"Appended to '{args.label}' ({len(value):,}/{block['limit']:,} characters).",
        blocks=blocks,
    )


def core_memory_replace(args: ReplaceArgs, ctx: ToolContext) -> ToolOutcome:
    block = _writable_block(ctx, args.label)
    old = args.old_content
    if not old:
        raise ToolFailure("old_content is empty; give the exact text to replace.")
    if old not in block["value"] and unescape(old) in block["value"]:
        # The prompt shows values HTML-escaped; accept text copied from that rendering.
        old = unescape(old)
    occurrences = block["value"].count(old)
    if occurrences == 0:
        raise ToolFailure(
            f"old_content was not found in block '{args.label}'; copy it exactly from the "
            "block, or use memory_rethink to rewrite the whole block."
        )
    if occurrences > 1:
        raise ToolFailure(
            f"old_content appears {occurrences} times in block '{args.label}'; include more "
            "surrounding text so it matches once."
        )
    value = block["value"].replace(old, args.new_content, 1)
    blocks = _updated(ctx, args.label, block, value)
    return ToolOutcome(
        text=f"Replaced text in '{args.label}' ({len(value):,}/{block['limit']:,} characters).",
        blocks=blocks,
    )


def memory_insert(args: InsertArgs, ctx: ToolContext) -> ToolOutcome:
    block = _writable_block(ctx, args.label)
    if not args.content.strip():
        raise ToolFailure("content is empty; nothing to insert.")
    lines = block["value"].split("\n") if block["value"] else []
    position = len(lines) if args.line == -1 else args.line
    if not 0 <= position <= len(lines):
        raise ToolFailure(
            f"line {args.line} is out of range: block '{args.label}' has {len(lines)} lines "
            "(use 0 for the beginning, -1 for the end)."
        )
    value = "\n".join([*lines[:position], args.content, *lines[position:]])
    blocks = _updated(ctx, args.label, block, value)
    return ToolOutcome(
        text=f"Inserted into '{args.label}' at line {position + 1} "
        f"({len(value):,}/{block['limit']:,} characters).",
        blocks=blocks,
    )


def memory_rethink(args: RethinkArgs, ctx: ToolContext) -> ToolOutcome:
    block = _writable_block(ctx, args.label)
    blocks = _updated(ctx, args.label, block, args.new_memory)
    return ToolOutcome(
        text=f"Rewrote '{args.label}' ({len(args.new_memory):,}/{block['limit']:,} characters).",
        blocks=blocks,
    )


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
