"""Memory pressure and eviction through the graph: warn once, flush before overflow, summarize."""

from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph_memgpt import Context
from langgraph_memgpt.nodes.evict import choose_cut
from langgraph_memgpt.nodes.summarize import SUMMARIZER_INSTRUCTIONS
from langgraph_memgpt.testing import ScriptedChatModel, call, reply

WINDOW = 2600


def summarizer_echo(messages) -> AIMessage:
    """A summarizer that keeps the first words of each line it was given."""
    lines = messages[-1].content.splitlines()
    return AIMessage(content=" | ".join(line[:40] for line in lines if line.strip())[:600])


def is_summarizer_call(messages) -> bool:
    return "running summary" in str(messages[0].content)


def test_warns_once_per_cycle_then_evicts_into_a_recursive_summary(make_agent) -> None:
    def answer(messages):
        if is_summarizer_call(messages):
            return summarizer_echo(messages)
        return reply("ok " + "blah " * 20)

    agent = make_agent(context=Context(context_window=WINDOW))
    agent.model.default = answer
    for turn in range(30):
        agent.say(f"Message number {turn}: " + "lorem ipsum dolor " * 15)
        assert agent.state["budget"]["budget"] <= WINDOW, f"turn {turn}"
    state = agent.state
    assert state["summary"] is not None
    assert state["summary"]["message_count"] > 0
    alerts = [
        m
        for checkpoint in agent.history()
        for m in checkpoint.values.get("messages", [])
        if isinstance(m, SystemMessage) and "Memory pressure" in m.content
    ]
    assert alerts, "a pressure alert was sent"
    # Never more than one alert in the queue at a time (one per fill cycle).
    assert (
        sum(
            isinstance(m, SystemMessage) and "Memory pressure" in m.content
            for m in state["messages"]
        )
        <= 1
    )
    # The queue never starts with a ToolMessage and every ToolMessage has its AI message.
    queue = state["messages"]
    assert not isinstance(queue[0], ToolMessage)
    call_ids = {c["id"] for m in queue if isinstance(m, AIMessage) for c in m.tool_calls}
    assert all(m.tool_call_id in call_ids for m in queue if isinstance(m, ToolMessage))
    # Evicted messages are still in recall storage: the thread's checkpoint history.
    first = "Message number 0:"
    assert not any(first in str(m.content) for m in queue)
    assert any(first in str(m.content) for c in agent.history() for m in c.values["messages"])
    assert (
        SUMMARIZER_INSTRUCTIONS.split(".")[0]
        in agent.model.prompts[
            next(i for i, p in enumerate(agent.model.prompts) if is_summarizer_call(p))
        ][0].content
    )


def test_summarizer_failure_falls_back_and_the_turn_goes_on(make_agent) -> None:
    agent = make_agent(context=Context(context_window=WINDOW))

    def answer(messages):
        if is_summarizer_call(messages):
            raise TimeoutError("summarizer timed out")
        return reply("fine")

    agent.model.default = answer
    for turn in range(30):
        agent.say(f"turn {turn} " + "words " * 60)
    summary = agent.state["summary"]
    assert summary is not None
    assert "without a summary because the summarizer failed" in summary["text"]
    assert "conversation_search" in summary["text"]


def test_cut_points_are_safe() -> None:
    queue = [
        HumanMessage(content="a", id="1"),
        AIMessage(content="", id="2", tool_calls=[call("x")]),
        ToolMessage(content="r", tool_call_id="c", id="3"),
        ToolMessage(content="r", tool_call_id="c", id="4"),
        HumanMessage(content="b", id="5"),
        AIMessage(content="", id="6", tool_calls=[call("y")]),
        ToolMessage(content="r", tool_call_id="d", id="7"),
    ]
    tokens = [10] * len(queue)
    # Freeing 20 tokens would cut after the AI message, splitting it from its results.
    assert choose_cut(queue, tokens, 20) == 4
    # Asking for everything never touches the latest user message and its chain.
    assert choose_cut(queue, tokens, 10_000) == 4
    assert choose_cut(queue, tokens, 5) == 1
    assert choose_cut(queue[4:], tokens[4:], 10_000) == 0


def test_eviction_uses_remove_message(make_agent) -> None:
    from langgraph_memgpt.nodes.agent import AgentSpec
    from langgraph_memgpt.nodes.evict import evict_steps
    from langgraph_memgpt.steps import drive

    model = ScriptedChatModel(default=AIMessage(content="Summary: Ada likes tea."))
    agent = AgentSpec(model=model)
    ctx = Context(context_window=6000)
    queue = []
    for i in range(20):
        queue.append(HumanMessage(content=f"user says {i} " + "x " * 200, id=f"h{i}"))
        queue.append(
            AIMessage(content="", id=f"a{i}", tool_calls=[call("send_message", message="ok")])
        )
        queue[-1].tool_calls[0]["id"] = f"c{i}"
        queue.append(ToolMessage(content="sent", tool_call_id=f"c{i}", id=f"t{i}"))

    class Rt:
        context = ctx
        store = None

    state = {"messages": queue, "blocks": agent.missing_blocks(ctx, {})}
    _, budget = agent.assemble(state, None, ctx)
    state["budget"] = budget
    update = drive(evict_steps(state, Rt(), agent=agent))
    removed = update["messages"]
    assert removed and all(isinstance(m, RemoveMessage) for m in removed)
    assert update["summary"]["text"] == "Summary: Ada likes tea."
    assert update["summary"]["message_count"] == len(removed)
    assert update["budget"]["budget"] <= 0.5 * 6000
    # Evicted no more than needed: the target, less room for a summary at its cap, less one
    # message of slack.
    assert update["budget"]["budget"] > 0.5 * 6000 - ctx.summary_token_cap - 300
