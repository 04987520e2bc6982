"""The static parts of an agent (model, tools, blocks) and how they become a prompt.

``AgentSpec`` is what :func:`~langgraph_memgpt.graph.builder.build_graph` binds into the nodes:
objects that cannot travel in the JSON runtime context (a model instance, Python tools). The
same ``assemble`` is used to measure the next prompt in ``check_memory_pressure`` and to send
it in ``reason``, so the budget always describes exactly what the model receives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import (
    SYSTEM_INSTRUCTIONS,
    build_prompt,
    render_core_memory,
    render_metadata,
    render_summary,
)
from langgraph_memgpt.graph.state import Block, Summary, TokenBudget, utc_now
from langgraph_memgpt.models import load_chat_model
from langgraph_memgpt.tokens import MESSAGE_OVERHEAD_TOKENS, count_text, counter
from langgraph_memgpt.tools.archival import ARCHIVAL_TOOLS, archive_namespace
from langgraph_memgpt.tools.base import AgentTool
from langgraph_memgpt.tools.core_memory import CORE_MEMORY_TOOLS, SEND_MESSAGE
from langgraph_memgpt.tools.recall import CONVERSATION_SEARCH

# A model-reported prompt size more than this factor away from the estimate is not a tokenizer
# difference but a different prompt (e.g. a provider adding its own preamble); ignore it.
_MAX_CALIBRATION = 4.0


@dataclass(frozen=True)
class BlockSpec:
    """A core memory block to create in every new thread."""

    label: str
    value: str = ""
    description: str = ""
    limit: int | None = None
    """Character limit; None means the context's ``block_char_limit``."""
    read_only: bool = False


PERSONA_DESCRIPTION = "Who you are: your name, personality and how you speak. Edit it as you grow."
HUMAN_DESCRIPTION = "What you know about the user: name, facts, preferences, plans."


@dataclass(frozen=True)
class AgentSpec:
    model: BaseChatModel | None = None
    summarizer: BaseChatModel | None = None
    tools: tuple[AgentTool, ...] = (
        SEND_MESSAGE,
        *CORE_MEMORY_TOOLS,
        CONVERSATION_SEARCH,
        *ARCHIVAL_TOOLS,
    )
    extra_blocks: tuple[BlockSpec, ...] = ()
    default_context: Context | None = None

    @cached_property
    def tools_by_name(self) -> Mapping[str, AgentTool]:
        return {tool.name: tool for tool in self.tools}

    @cached_property
    def _schemas(self) -> dict[bool, list[dict[str, Any]]]:
        return {
            has_store: [t.schema() for t in self.tools if has_store or not t.requires_store]
            for has_store in (False, True)
        }

    def tool_schemas(self, store: BaseStore | None) -> list[dict[str, Any]]:
        """Schemas of the tools this run can use (archival tools need a store)."""
        return self._schemas[store is not None]

    def tool_schema_tokens(self, store: BaseStore | None) -> int:
        return counter.tool_schemas(self.tool_schemas(store))

    def context(self, runtime: Runtime[Context] | None) -> Context:
        """The run's context; runs started without one get the env/default configuration."""
        ctx = runtime.context if runtime is not None else None
        if isinstance(ctx, Context):
            return ctx
        if isinstance(ctx, Mapping):
            return Context(**ctx)
        return self.default_context or Context()

    def chat_model(self, ctx: Context) -> BaseChatModel:
        if self.model is not None:
            return self.model
        return load_chat_model(
            ctx.model,
            context_window=ctx.context_window,
            base_url=ctx.ollama_base_url,
            max_output_tokens=ctx.output_reserve,
        )

    def summarizer_model(self, ctx: Context) -> BaseChatModel:
        if self.summarizer is not None:
            return self.summarizer
        if ctx.summarizer_model:
            return load_chat_model(
                ctx.summarizer_model,
                context_window=ctx.context_window,
                base_url=ctx.ollama_base_url,
                max_output_tokens=ctx.output_reserve,
            )
        return self.chat_model(ctx)

    def missing_blocks(self, ctx: Context, existing: Mapping[str, Block]) -> dict[str, Block]:
        """Configured blocks a thread does not have yet (all of them in a new thread)."""
        specs = (
            BlockSpec("persona", ctx.persona, PERSONA_DESCRIPTION),
            BlockSpec("human", ctx.human, HUMAN_DESCRIPTION),
            *self.extra_blocks,
        )
        now = utc_now()
        return {
            spec.label: Block(
                value=spec.value,
                limit=spec.limit or ctx.block_char_limit,
                description=spec.description,
                read_only=spec.read_only,
                updated_at=now,
            )
            for spec in specs
            if spec.label not in existing
        }

    def archival_count(self, store: BaseStore | None, ctx: Context) -> int | None:
        """Passages in the user's archive; None without a store, -1 if the store can't count."""
        if store is None:
            return None
        count = getattr(store, "count", None)
        return count(archive_namespace(ctx)) if callable(count) else -1

    def metadata(
        self,
        blocks: Mapping[str, Block],
        summary: Summary | None,
        queue: Sequence[BaseMessage],
        store: BaseStore | None,
        ctx: Context,
    ) -> str:
        evicted = summary["message_count"] if summary else 0
        updated = max((b["updated_at"] for b in blocks.values()), default=None)
        return render_metadata(
            recall_count=evicted + len(queue),
            in_context_count=len(queue),
            archival_count=self.archival_count(store, ctx),
            memory_updated_at=updated,
        )

    def assemble(
        self,
        state: Mapping[str, Any],
        store: BaseStore | None,
        ctx: Context,
    ) -> tuple[list[BaseMessage], TokenBudget]:
        """The prompt the next model call sends, and its size by section."""
        blocks: dict[str, Block] = state.get("blocks") or {}
        summary: Summary | None = state.get("summary") or None
        queue: Sequence[BaseMessage] = state.get("messages") or []
        metadata = self.metadata(blocks, summary, queue, store, ctx)
        prompt = build_prompt(blocks, metadata, summary, queue)
        budget = self.budget(blocks, summary, queue, metadata, ctx, state.get("budget"), store)
        return prompt, budget

    def budget(
        self,
        blocks: Mapping[str, Block],
        summary: Summary | None,
        queue: Sequence[BaseMessage],
        metadata: str,
        ctx: Context,
        previous: TokenBudget | None,
        store: BaseStore | None = None,
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
        estimate = system + core + self.tool_schema_tokens(store) + summary_tokens + queue_tokens
        budget = TokenBudget(
            context_window=ctx.context_window,
            output_reserve=ctx.output_reserve,
            system=system,
            core_memory=core,
            tools=self.tool_schema_tokens(store),
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
