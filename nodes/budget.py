"""The prompt a model call sends, and the token budget that describes it.

The same :func:`assemble_prompt` measures the next prompt in ``check_memory_pressure`` and
builds it in ``reason``, so the budget always describes exactly what the model receives. The
counts are tiktoken's (``tokens.py``), corrected by what the model reported for its last call
(:func:`calibrated`), since a local model's tokenizer and chat template count differently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import (
    SYSTEM_INSTRUCTIONS,
    build_prompt,
    render_core_memory,
    render_metadata,
    render_summary,
)
from langgraph_memgpt.graph.state import Block, Summary, TokenBudget
from langgraph_memgpt.tokens import MESSAGE_OVERHEAD_TOKENS, count_text, counter

# A model-reported prompt size more than this factor away from the estimate is not a tokenizer
# difference but a different prompt (e.g. a provider adding its own preamble); ignore it.
_MAX_CALIBRATION = 4.0


def assemble_prompt(
    state: Mapping[str, Any], ctx: Context, *, tool_tokens: int, archival_count: int | None
) -> tuple[list[BaseMessage], TokenBudget]:
    """The prompt for ``state`` and its size by section.

    ``tool_tokens`` is what the tool schemas the call offers cost; ``archival_count`` the
    passages in the user's archive (None without a store, -1 when the store cannot count).
    """
    blocks: dict[str, Block] = state.get("blocks") or {}
    summary: Summary | None = state.get("summary") or None
    queue: Sequence[BaseMessage] = state.get("messages") or []
    metadata = memory_metadata(blocks, summary, queue, archival_count)
    prompt = build_prompt(blocks, metadata, summary, queue)
    budget = token_budget(blocks, summary, queue, metadata, ctx, state.get("budget"), tool_tokens)
    return prompt, budget


def memory_metadata(
    blocks: Mapping[str, Block],
    summary: Summary | None,
    queue: Sequence[BaseMessage],
    archival_count: int | None,
) -> str:
    evicted = summary["message_count"] if summary else 0
    updated = max((b["updated_at"] for b in blocks.values()), default=None)
    return render_metadata(
        recall_count=evicted + len(queue),
        in_context_count=len(queue),
        archival_count=archival_count,
        memory_updated_at=updated,
    )


def token_budget(
    blocks: Mapping[str, Block],
    summary: Summary | None,
    queue: Sequence[BaseMessage],
    metadata: str,
    ctx: Context,
    previous: TokenBudget | None,
    tool_tokens: int,
) -> TokenBudget:
    # The metadata differs from step to step only in its numbers; cl100k splits digit runs
    # into the same groups whatever the digits, so counting it with digits zeroed is exact
    # and lets the count be cached.
    system = _count_cached(SYSTEM_INSTRUCTIONS) + _count_cached(_DIGITS.sub("0", metadata))
    system += MESSAGE_OVERHEAD_TOKENS
    core = _count_cached(render_core_memory(dict(blocks)))
    summary_tokens = (
        _count_cached(render_summary(summary)) + MESSAGE_OVERHEAD_TOKENS if summary else 0
    )
    queue_tokens = counter.messages(queue)
    estimate = system + core + tool_tokens + summary_tokens + queue_tokens
    budget = TokenBudget(
        context_window=ctx.context_window,
        output_reserve=ctx.output_reserve,
        system=system,
        core_memory=core,
        tools=tool_tokens,
        summary=summary_tokens,
        queue=queue_tokens,
        estimate=estimate,
        budget=calibrated(estimate, previous),
    )
    if previous is not None:
        for key in ("last_call_estimate", "last_call_reported"):
            if key in previous:
                budget[key] = previous[key]  # type: ignore[literal-required]
    return budget


def calibrated(estimate: int, previous: TokenBudget | None) -> int:
    """The next prompt's size, corrected by what the model reported for the last one.

    Two corrections, and the larger wins: the estimate scaled by reported / estimated (a
    tokenizer that counts differently from tiktoken) and the estimate shifted by reported -
    estimated (a chat template that adds or drops a fixed part: SmolLM2's leaves the tool
    schemas out, a third of our prompt). Each alone under-counts in the other's case once
    the prompt grows, and an under-count overflows the window where an over-count only
    evicts a little early. A report far from the estimate (over 4x either way) is a
    different prompt, not a count of ours, and is ignored.
    """
    if not previous:
        return estimate
    last_estimate = previous.get("last_call_estimate")
    reported = previous.get("last_call_reported")
    if not last_estimate or not reported:
        return estimate
    ratio = reported / last_estimate
    if not 1 / _MAX_CALIBRATION <= ratio <= _MAX_CALIBRATION:
        return estimate
    return max(round(estimate * ratio), estimate + reported - last_estimate)


_section_cache: dict[str, int] = {}
_DIGITS = re.compile(r"\d")


def _count_cached(text: str) -> int:
    """Sections (instructions, rendered blocks) repeat verbatim step after step: count once."""
    tokens = _section_cache.get(text)
    if tokens is None:
        if len(_section_cache) > 1024:
            _section_cache.clear()
        tokens = count_text(text)
        _section_cache[text] = tokens
    return tokens
