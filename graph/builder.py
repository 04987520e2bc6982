"""Build the MemGPT agent graph.

START -> [retrieve_memory ->] check_memory_pressure -> [evict_and_summarize ->] reason
      -> execute_tools -> (heartbeat set) check_memory_pressure ... | (unset) END
reason -> END when the model answers without a tool call.
check_memory_pressure -> END when the turn's user message was answered already (a message
re-sent with the same id: see ``nodes/routing.py``).

``retrieve_memory`` (``nodes/retrieve.py``) runs once per run, before the card's four nodes:
it searches recall and archival memory for the run's user message and puts the best results in
front of the model (on by default for local models; ``Context.retrieval``), and notes whether
the user's knowledge graph has data (``knowledge_graph_search`` is offered only then; the
``consolidate`` graph, ``graph/consolidate.py``, builds it). A run where it has nothing to do
(retrieval off, no knowledge graph to check, no earlier note to clear) goes straight to
``check_memory_pressure``. The heartbeat loop goes back to ``check_memory_pressure`` and never
through it.

``reason`` carries a LangGraph ``RetryPolicy`` for transient model failures (HTTP 5xx, timeouts,
dropped or refused connections): the node is a generator driven by ``nodes/io.py`` with no side
effect before the model answers, so re-running the whole node is exactly a retry of the call,
and LangGraph's policy gives backoff, jitter and the attempt number (``runtime.execution_info``)
on both the sync and the async path.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Checkpointer, RetryPolicy
from langgraph_memgpt._compat import node_runnable
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import InputState, MemGPTState
from langgraph_memgpt.nodes.agent import AgentSpec, BlockSpec
from langgraph_memgpt.nodes.evict import evict_steps
from langgraph_memgpt.nodes.execute_tools import execute_tools_steps
from langgraph_memgpt.nodes.pressure import check_memory_pressure
from langgraph_memgpt.nodes.reason import is_transient_model_error, reason_steps
from langgraph_memgpt.nodes.retrieve import retrieve_steps
from langgraph_memgpt.nodes.routing import (
    make_route_after_pressure,
    make_route_from_start,
    route_after_reason,
    route_after_tools,
)
from langgraph_memgpt.steps import sync_and_async
from langgraph_memgpt.tools.base import AgentTool, from_langchain_tool

DEFAULT_NAME = "memgpt"
SEARCH_TOOL_NAMES = frozenset(
    {"conversation_search", "archival_memory_search", "knowledge_graph_search"}
)
MODEL_RETRY = RetryPolicy(
    initial_interval=0.5, backoff_factor=2.0, max_attempts=3, retry_on=is_transient_model_error
)
"""Default retry of a failed model call: 3 attempts, 0.5 s then 1 s apart (plus jitter)."""


def memory_tools(search_tools: bool = True) -> tuple[AgentTool, ...]:
    """The memory tools an agent offers: all of them, or without the two search tools."""
    tools = AgentSpec().tools
    return tools if search_tools else tuple(t for t in tools if t.name not in SEARCH_TOOL_NAMES)


def build_graph(
    model: BaseChatModel | None = None,
    *,
    summarizer: BaseChatModel | None = None,
    tools: Sequence[BaseTool | AgentTool] = (),
    blocks: Sequence[BlockSpec] = (),
    context: Context | None = None,
    checkpointer: Checkpointer | BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    name: str = DEFAULT_NAME,
    model_retry: RetryPolicy | None = MODEL_RETRY,
    search_tools: bool = True,
) -> CompiledStateGraph:
    """Compile a MemGPT agent graph.

    Args:
        model: Chat model to use. None means the runtime context's ``model`` string
            (default ``ollama:qwen3:4b`` through ChatOllama with ``num_ctx`` set).
        summarizer: Model for recursive summaries; None means the context's
            ``summarizer_model`` or else the chat model.
        tools: Extra tools (LangChain tools or AgentTools), added to the memory tools; each
            gets a ``request_heartbeat`` argument in the schema the model sees.
        blocks: Core memory blocks beyond ``persona`` and ``human``.
        context: Configuration used when a run passes no ``context``.
        checkpointer: Where threads (and so recall memory) are kept. Leave None under
            ``langgraph dev`` / LangGraph Platform, which provide their own.
        store: Archival memory store; leave None where the platform provides one.
        name: Graph name.
        model_retry: Retry of a model call that failed transiently (HTTP 5xx, timeout,
            dropped or refused connection); None makes one attempt. Its ``retry_on`` is
            replaced by the transient-failure test, so only ``max_attempts`` and the
            intervals matter. The client's timeout is ``MEMGPT_MODEL_TIMEOUT`` (seconds).
        search_tools: False leaves ``conversation_search`` and ``archival_memory_search`` out
            of what the model is offered (their schemas cost ~500 tokens of every prompt); automatic
            retrieval (``Context.retrieval``) still searches recall and archival memory.

    Example:
        ```python
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph_memgpt import Context, build_graph

        agent = build_graph(checkpointer=InMemorySaver())
        result = agent.invoke(
            {"messages": [{"role": "user", "content": "Hi, I'm Ada."}]},
            {"configurable": {"thread_id": "ada-1"}},
            context=Context(model="ollama:qwen3:4b", context_window=8192),
        )
        ```
    """
    extra = tuple(t if isinstance(t, AgentTool) else from_langchain_tool(t) for t in tools)
    agent = AgentSpec(
        model=model,
        summarizer=summarizer,
        tools=(*memory_tools(search_tools), *extra),
        extra_blocks=tuple(blocks),
        default_context=context,
    )
    names = [t.name for t in agent.tools]
    if len(names) != len(set(names)):
        raise ValueError(f"tool names must be unique, got {names}")

    if model_retry is not None:
        model_retry = model_retry._replace(retry_on=is_transient_model_error)
    attempts = model_retry.max_attempts if model_retry is not None else 1
    reason, areason = sync_and_async(
        functools.partial(reason_steps, agent=agent, max_attempts=attempts)
    )
    execute, aexecute = sync_and_async(functools.partial(execute_tools_steps, agent=agent))
    evict, aevict = sync_and_async(functools.partial(evict_steps, agent=agent))
    retrieve, aretrieve = sync_and_async(functools.partial(retrieve_steps, agent=agent))

    builder = StateGraph(MemGPTState, context_schema=Context, input_schema=InputState)
    builder.add_node("retrieve_memory", _runnable(retrieve, aretrieve))
    builder.add_node("check_memory_pressure", functools.partial(check_memory_pressure, agent=agent))
    builder.add_node("evict_and_summarize", _runnable(evict, aevict))
    builder.add_node("reason", _runnable(reason, areason), retry_policy=model_retry)
    builder.add_node("execute_tools", _runnable(execute, aexecute))

    builder.add_conditional_edges(
        START, make_route_from_start(agent), ["retrieve_memory", "check_memory_pressure"]
    )
    builder.add_edge("retrieve_memory", "check_memory_pressure")
    builder.add_conditional_edges(
        "check_memory_pressure",
        make_route_after_pressure(agent),
        ["evict_and_summarize", "reason", "__end__"],
    )
    builder.add_edge("evict_and_summarize", "reason")
    builder.add_conditional_edges("reason", route_after_reason, ["execute_tools", "__end__"])
    builder.add_conditional_edges(
        "execute_tools", route_after_tools, ["check_memory_pressure", "__end__"]
    )
    return builder.compile(checkpointer=checkpointer, store=store, name=name)


# Nodes with a native sync and an async path: LangGraph's public add_node takes one function.
_runnable = node_runnable


graph = build_graph()
"""The default agent, compiled without checkpointer or store (what ``langgraph dev`` and
LangGraph Platform load; they attach their own persistence)."""
