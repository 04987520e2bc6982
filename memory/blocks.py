"""Core memory edits: append, replace, insert and rethink a block.

Each edit is a pure function of the blocks: it checks that the block exists, is writable and
stays within its character limit before anything changes, and returns the changed block (or
raises :class:`BlockEditError`, leaving every block as it was). The agent's tools
(``tools/core_memory.py``), the HTTP API (``PATCH /memory/core/{label}``) and the CLI all edit
through these functions, so a rule holds the same wherever an edit comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import unescape
from typing import Literal

from langgraph_memgpt.graph.state import Block, utc_now

Problem = Literal["not_found", "read_only", "over_limit", "invalid"]


class BlockEditError(ValueError):
    """An edit that was refused. The message says what to do instead; ``problem`` says why,
    for front ends that map it to a status (404, 403, 400)."""

    def __init__(self, message: str, problem: Problem = "invalid") -> None:
        super().__init__(message)
        self.problem = problem


def writable_block(blocks: Mapping[str, Block], label: str) -> Block:
    """The block called ``label``, if it exists and may be edited."""
    block = blocks.get(label)
    if block is None:
        known = ", ".join(sorted(blocks)) or "none"
        raise BlockEditError(f"there is no memory block '{label}'. Blocks: {known}.", "not_found")
    if block["read_only"]:
        raise BlockEditError(
            f"memory block '{label}' is read-only and cannot be edited.", "read_only"
        )
    return block


def set_value(block: Block, label: str, value: str, room_hint: str = "") -> dict[str, Block]:
    """``{label: block with value}``, refused when ``value`` is over the block's limit.

    ``room_hint`` ends the refusal with how to make room (the tools name the tools the model
    has); without it the refusal ends at "nothing was changed".
    """
    if len(value) > block["limit"]:
        advice = f" To make room, {room_hint}." if room_hint else ""
        raise BlockEditError(
            f"block '{label}' would have {len(value):,} characters, over its limit of "
            f"{block['limit']:,}; nothing was changed.{advice}",
            "over_limit",
        )
    return {label: Block(**{**block, "value": value, "updated_at": utc_now()})}


def append(
    blocks: Mapping[str, Block], label: str, content: str, room_hint: str = ""
) -> dict[str, Block]:
    block = writable_block(blocks, label)
    if not content.strip():
        raise BlockEditError("content is empty; nothing to append.")
    value = f"{block['value']}\n{content}" if block["value"] else content
    return set_value(block, label, value, room_hint)


def replace(
    blocks: Mapping[str, Block], label: str, old: str, new: str, room_hint: str = ""
) -> dict[str, Block]:
    block = writable_block(blocks, label)
    if not old:
        raise BlockEditError("old_content is empty; give the exact text to replace.")
    if old not in block["value"] and unescape(old) in block["value"]:
        # The prompt shows values HTML-escaped; accept text copied from that rendering.
        old = unescape(old)
    occurrences = block["value"].count(old)
    if occurrences == 0:
        raise BlockEditError(
            f"old_content was not found in block '{label}'; copy it exactly from the "
            "block, or use memory_rethink to rewrite the whole block."
        )
    if occurrences > 1:
        raise BlockEditError(
            f"old_content appears {occurrences} times in block '{label}'; include more "
            "surrounding text so it matches once."
        )
    return set_value(block, label, block["value"].replace(old, new, 1), room_hint)


def insert(
    blocks: Mapping[str, Block], label: str, content: str, line: int = -1, room_hint: str = ""
) -> tuple[dict[str, Block], int]:
    """The changed block and the line number (from 1) the content now starts at."""
    block = writable_block(blocks, label)
    if not content.strip():
        raise BlockEditError("content is empty; nothing to insert.")
    lines = block["value"].split("\n") if block["value"] else []
    position = len(lines) if line == -1 else line
    if not 0 <= position <= len(lines):
        raise BlockEditError(
            f"line {line} is out of range: block '{label}' has {len(lines)} lines "
            "(use 0 for the beginning, -1 for the end)."
        )
    value = "\n".join([*lines[:position], content, *lines[position:]])
    return set_value(block, label, value, room_hint), position + 1


def rethink(
    blocks: Mapping[str, Block], label: str, new_value: str, room_hint: str = ""
) -> dict[str, Block]:
    """The whole block rewritten (``memory_rethink``; the HTTP API's block PATCH)."""
    return set_value(writable_block(blocks, label), label, new_value, room_hint)
