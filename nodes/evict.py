"""evict_and_summarize: free the context window by evicting the oldest part of the queue.

Messages are removed from the queue with ``RemoveMessage``; they stay in the thread's
checkpoints (recall memory). The cut point is always safe: an AI message with tool calls is
never separated from its ToolMessages, the queue never starts with a ToolMessage, and the
latest user message and the tool chain after it are never evicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage, ToolMessage
from langgraph.runtime import Runtime
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import MemGPTState, Summary, utc_now
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.budget import fold_core
from langgraph_memgpt.nodes.pressure import is_pressure_alert
from langgraph_memgpt.nodes.summarize import fallback_summary, summarize_steps
from langgraph_memgpt.steps import blocking
from langgraph_memgpt.tokens import counter


def protected_start(queue: Sequence[BaseMessage]) -> int:
    """Index of the first message that must stay: the latest user message, or the start of the
    current tool chain when the turn has no user message in the queue."""
    for index in range(len(queue) - 1, -1, -1):
        if isinstance(queue[index], HumanMessage):
            return index
    for index in range(len(queue) - 1, -1, -1):
        if isinstance(queue[index], AIMessage) and queue[index].tool_calls:
            return index
    return len(queue)


def choose_cut(queue: Sequence[BaseMessage], tokens: Sequence[int], tokens_to_free: int) -> int:
    """Evict ``queue[:cut]``: the smallest safe cut that frees enough, else the largest safe one.

    0 means nothing can be evicted safely.
    """
    limit = protected_start(queue)
    best = 0
    freed = 0
    for cut in range(1, limit + 1):
        freed += tokens[cut - 1]
        if cut < len(queue) and isinstance(queue[cut], ToolMessage):
            continue
        best = cut
        if freed >= tokens_to_free:
            break
    return best


def evict_steps(state: MemGPTState, runtime: Runtime[Context], *, agent: AgentSpec):
    ctx = agent.context(runtime)
    queue = state["messages"]
    budget = state["budget"]
    tokens = [counter.message(m) for m in queue]
    # The budget may be scaled by the model-reported ratio; free tokens in the same units.
    scale = budget["budget"] / budget["estimate"] if budget["estimate"] else 1.0
    target = ctx.evict_target_fraction * ctx.prompt_window
    # The new summary may grow up to its cap: make room for that too.
    summary_growth = max(0, ctx.summary_token_cap - budget["summary"])
    tokens_to_free = max(0, round((budget["budget"] - target) / scale) + summary_growth)
    cut = choose_cut(queue, tokens, tokens_to_free)
    if cut == 0:
        return {"pressure_warned": False}

    evicted = queue[:cut]
    previous: Summary | None = state.get("summary") or None
    previous_text = previous["text"] if previous else ""
    try:
        # Loading may do I/O (the "auto" model asks whether Ollama answers): off the loop.
        summarizer = yield blocking(agent.summarizer_model, ctx)
    except Exception as error:  # no summarizer: the turn goes on with the fallback notice
        summarizer = None
        text = fallback_summary(previous_text, evicted, f"it could not be loaded: {error}")
    if summarizer is not None:
        text, _ok = yield from summarize_steps(
            summarizer,
            previous_text,
            evicted,
            window_tokens=ctx.summarizer_window,
            max_summary_tokens=ctx.summary_token_cap,
        )
    summary = Summary(
        text=text,
        message_count=(previous["message_count"] if previous else 0) + len(evicted),
        updated_at=utc_now(),
    )
    remaining = {**state, "messages": queue[cut:], "summary": summary}
    update: dict[str, Any] = {
        "messages": [RemoveMessage(id=m.id) for m in evicted],
        "summary": summary,
        # A new fill cycle, unless this cycle's alert is still in the queue (it sits after the
        # turn's user message, which is never evicted): one alert in view at a time.
        "pressure_warned": any(is_pressure_alert(m) for m in queue[cut:]),
    }
    if ctx.prompt_layout == "cached":
        # The head of the queue changes, so the engine re-processes the prompt from there
        # anyway: the moment to show core memory as it is now in the memory note, and to
        # stop relying on edit results that may just have been evicted.
        remaining["prompt_core"] = update["prompt_core"] = fold_core(
            remaining, agent.archival_count(runtime.store, ctx)
        )
    update["budget"] = agent.measure(remaining, runtime.store, ctx)
    return update
