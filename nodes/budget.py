"""The prompt a model call sends, and the token budget that describes it.

:func:`assemble_prompt` builds the prompt in ``reason``; :func:`measure_prompt` gives the same
budget without building it, for the checks before a call (``check_memory_pressure``,
eviction, retrieval's room). Both read the state through one :class:`_PromptParts`, so the
budget always describes exactly what the model receives. The
counts are tiktoken's (``tokens.py``), corrected by what the model reported for its last call
(:func:`calibrated`), since a local model's tokenizer and chat template count differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import (
    MEMORY_NOTE_INTRO,
    SYSTEM_INSTRUCTIONS,
    build_cached_prompt,
    build_prompt,
    model_visible,
    render_core_memory,
    render_metadata,
    render_summary,
    shows_retrieved,
    with_retrieved,
)
from langgraph_memgpt.graph.state import Block, PromptCore, Summary, TokenBudget
from langgraph_memgpt.tokens import MESSAGE_OVERHEAD_TOKENS, count_text, counter

LAST_CALL_KEYS = (
    "last_call_estimate",
    "last_call_reported",
    "last_call_cached",
    "last_call_processed",
)
"""What the last model call measured: carried into every new budget until the next call."""
# A model-reported prompt size more than this factor away from the estimate is not a tokenizer
# difference but a different prompt (e.g. a provider adding its own preamble); ignore it.
_MAX_CALIBRATION = 4.0
# Below this share of the estimate, a report counts only the re-processed tokens (see
# calibrated). Not higher: a template that leaves the tool schemas out (SmolLM2's) reports
# about 2/3 of our estimate, and under half at small windows, where the schemas are most of it.
_MIN_REPORTED_RATIO = 0.25


def assemble_prompt(
    state: Mapping[str, Any],
    ctx: Context,
    *,
    tool_tokens: int,
    archival_count: Callable[[], int | None],
) -> tuple[list[BaseMessage], TokenBudget]:
    """The prompt for ``state`` and its size by section.

    ``tool_tokens`` is what the tool schemas the call offers cost; ``archival_count`` gives
    the passages in the user's archive (None without a store, -1 when the store cannot
    count), asked only when the metadata is rendered.
    """
    parts = _PromptParts(state, ctx, archival_count)
    if parts.cached:
        prompt = build_cached_prompt(parts.blocks, parts.metadata, parts.summary, parts.queue)
    else:
        prompt = build_prompt(parts.blocks, parts.metadata, parts.summary, parts.queue)
    prompt, _ = with_retrieved(prompt, state.get("retrieved"))
    return prompt, parts.budget(tool_tokens)


def measure_prompt(
    state: Mapping[str, Any],
    ctx: Context,
    *,
    tool_tokens: int,
    archival_count: Callable[[], int | None],
) -> TokenBudget:
    """The budget of the prompt :func:`assemble_prompt` builds for ``state``, without
    building it: the checks before a model call (pressure, eviction, retrieval's room) need
    only the sizes, and building defuses and copies every queued message."""
    return _PromptParts(state, ctx, archival_count).budget(tool_tokens)


class _PromptParts:
    """What a prompt is made of, read from the state once for both the prompt and its budget."""

    def __init__(
        self, state: Mapping[str, Any], ctx: Context, archival_count: Callable[[], int | None]
    ) -> None:
        self.state, self.ctx = state, ctx
        self.summary: Summary | None = state.get("summary") or None
        self.queue: Sequence[BaseMessage] = model_visible(state.get("messages") or [])
        self.cached = ctx.prompt_layout == "cached"
        if self.cached:
            core = state.get("prompt_core") or fold_core(state, archival_count())
            self.blocks: Mapping[str, Block] = core["blocks"]
            self.metadata: str = core["metadata"]
        else:
            self.blocks = state.get("blocks") or {}
            self.metadata = memory_metadata(self.blocks, self.summary, self.queue, archival_count())

    def budget(self, tool_tokens: int) -> TokenBudget:
        retrieved = self.state.get("retrieved")
        return token_budget(
            self.blocks,
            self.summary,
            self.queue,
            self.metadata,
            self.ctx,
            self.state.get("budget"),
            tool_tokens,
            cached=self.cached,
            # Counted once, when the note was made (nodes/retrieve.py): it is rendered from
            # the same hits on every call of the turn.
            retrieved_tokens=retrieved["tokens"] if shows_retrieved(self.queue, retrieved) else 0,
        )


def fold_core(state: Mapping[str, Any], archival_count: int | None) -> PromptCore:
    """Core memory as it is now, for the memory note: the blocks and fresh metadata.

    A fold changes the prompt from the memory note on, so the engine re-processes all of
    it: it happens when an eviction changes the head of the queue anyway, and when a block
    changed in a way the conversation does not show (an edit through the HTTP API or Studio,
    a new block).
    """
    blocks: dict[str, Block] = dict(state.get("blocks") or {})
    metadata = memory_metadata(
        blocks, state.get("summary") or None, state.get("messages") or [], archival_count
    )
    return PromptCore(blocks=blocks, shown=dict(blocks), metadata=metadata)


def _visible(block: Block) -> tuple[str, int, str, bool]:
    return block["value"], block["limit"], block["description"], block["read_only"]


def core_is_current(core: PromptCore | None, blocks: Mapping[str, Block]) -> bool:
    """Whether the model sees every block as it is now (in the memory note or in the
    result of the edit that made it). Only ``updated_at`` may differ: the model is not shown
    it per block."""
    if core is None or core["shown"].keys() != blocks.keys():
        return False
    return all(_visible(core["shown"][label]) == _visible(b) for label, b in blocks.items())


def shown_in_conversation(
    core: PromptCore | None, changed: Mapping[str, Block]
) -> PromptCore | None:
    """``core`` after edits whose results show the model the new blocks (``changed``)."""
    if core is None:
        return None
    return PromptCore(
        blocks=core["blocks"], shown={**core["shown"], **changed}, metadata=core["metadata"]
    )


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
    *,
    cached: bool = False,
    retrieved_tokens: int = 0,
) -> TokenBudget:
    """The prompt's size by section. The sections are the same in both layouts (``cached``:
    the metadata and the blocks in the memory note, the summary at its end; else the metadata
    in the system message and the summary a message of its own); ``retrieved_tokens`` is the
    note of retrieved memories, where the prompt shows one."""
    # The metadata differs from step to step only in its numbers; cl100k splits digit runs
    # into the same groups whatever the digits, so counting it with digits zeroed is exact
    # and lets the count be cached.
    metadata_tokens = _count_cached(_DIGITS.sub("0", metadata))
    system = _count_cached(SYSTEM_INSTRUCTIONS) + MESSAGE_OVERHEAD_TOKENS
    core = _count_cached(render_core_memory(dict(blocks)))
    summary_tokens = _count_cached(render_summary(summary)) if summary else 0
    if cached:
        core += _count_cached(MEMORY_NOTE_INTRO) + metadata_tokens + MESSAGE_OVERHEAD_TOKENS
    else:
        system += metadata_tokens
        summary_tokens += MESSAGE_OVERHEAD_TOKENS if summary else 0
    queue_tokens = counter.messages(queue)
    estimate = system + core + tool_tokens + summary_tokens + queue_tokens + retrieved_tokens
    budget = TokenBudget(
        context_window=ctx.context_window,
        output_reserve=ctx.output_reserve,
        system=system,
        core_memory=core,
        tools=tool_tokens,
        summary=summary_tokens,
        queue=queue_tokens,
        retrieved=retrieved_tokens,
        estimate=estimate,
        budget=calibrated(estimate, previous),
    )
    if previous is not None:
        for key in LAST_CALL_KEYS:
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
    evicts a little early. A report far from the estimate is ignored: over 4x above is a
    different prompt, not a count of ours, and under a quarter is taken for a server that counts
    only the tokens it re-processed (llama.cpp and Ollama since 0.30 count the cached ones
    too, and say how many; older servers did not). With a cached prompt that part is a few
    percent of the prompt, and believing it would let the prompt overflow the window.
    """
    if not previous:
        return estimate
    last_estimate = previous.get("last_call_estimate")
    reported = previous.get("last_call_reported")
    if not last_estimate or not reported:
        return estimate
    cached = previous.get("last_call_cached")
    if cached and reported < cached:  # a server counting its cached tokens apart
        reported += cached
    ratio = reported / last_estimate
    if not _MIN_REPORTED_RATIO <= ratio <= _MAX_CALIBRATION:
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
