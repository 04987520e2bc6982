"""The static parts of an agent: its model, tools and starting blocks.

``AgentSpec`` is what :func:`~langgraph_memgpt.graph.builder.build_graph` binds into the nodes:
objects that cannot travel in the JSON runtime context (a model instance, Python tools). Its
``assemble`` hands them to ``nodes/budget.py``, which builds the prompt and its token budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph_memgpt.archival.capabilities import Countable
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import Block, TokenBudget, utc_now
from langgraph_memgpt.memory.archive import archive_namespace
from langgraph_memgpt.models import is_local_model, load_chat_model
from langgraph_memgpt.nodes.budget import assemble_prompt, measure_prompt
from langgraph_memgpt.tokens import counter
from langgraph_memgpt.tools.archival import ARCHIVAL_TOOLS
from langgraph_memgpt.tools.base import AgentTool
from langgraph_memgpt.tools.core_memory import CORE_MEMORY_TOOLS, SEND_MESSAGE
from langgraph_memgpt.tools.knowledge import KNOWLEDGE_GRAPH_SEARCH
from langgraph_memgpt.tools.recall import CONVERSATION_SEARCH


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
        KNOWLEDGE_GRAPH_SEARCH,
    )
    extra_blocks: tuple[BlockSpec, ...] = ()
    default_context: Context | None = None

    @cached_property
    def tools_by_name(self) -> Mapping[str, AgentTool]:
        return {tool.name: tool for tool in self.tools}

    @cached_property
    def _schemas(self) -> dict[tuple[bool, bool], list[dict[str, Any]]]:
        return {
            (has_store, knowledge): [
                t.schema()
                for t in self.tools
                if (has_store or not t.requires_store)
                and ((has_store and knowledge) or not t.requires_knowledge)
            ]
            for has_store in (False, True)
            for knowledge in (False, True)
        }

    def tool_schemas(
        self, store: BaseStore | None, knowledge: bool = False
    ) -> list[dict[str, Any]]:
        """Schemas of the tools this run can use (archival tools need a store; the knowledge
        graph's tool, a knowledge graph with data: ``state["knowledge_graph"]``)."""
        return self._schemas[store is not None, bool(knowledge)]

    def tool_schema_tokens(self, store: BaseStore | None, knowledge: bool = False) -> int:
        return counter.tool_schemas(self.tool_schemas(store, knowledge))

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

    def retrieval_sources(self, ctx: Context) -> frozenset[str]:
        """Where automatic retrieval searches for this run: 'recall', 'archival', both or none."""
        mode = ctx.retrieval
        if mode == "auto":
            mode = "both" if is_local_model(self.model, ctx.model) else "off"
        return frozenset({"both": ("recall", "archival"), "off": ()}.get(mode, (mode,)))

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
        return store.count(archive_namespace(ctx)) if isinstance(store, Countable) else -1

    def assemble(
        self,
        state: Mapping[str, Any],
        store: BaseStore | None,
        ctx: Context,
    ) -> tuple[list[BaseMessage], TokenBudget]:
        """The prompt the next model call sends, and its size by section."""
        return assemble_prompt(
            state,
            ctx,
            tool_tokens=self.tool_schema_tokens(store, state.get("knowledge_graph", False)),
            archival_count=lambda: self.archival_count(store, ctx),
        )

    def measure(
        self,
        state: Mapping[str, Any],
        store: BaseStore | None,
        ctx: Context,
    ) -> TokenBudget:
        """The size by section of the prompt :meth:`assemble` would build, without building it."""
        return measure_prompt(
            state,
            ctx,
            tool_tokens=self.tool_schema_tokens(store, state.get("knowledge_graph", False)),
            archival_count=lambda: self.archival_count(store, ctx),
        )
