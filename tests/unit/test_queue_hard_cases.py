"""The queue manager's hard cases: oversized input, summarizer overflow and failure, summary
growth, a window too small for the fixed prompt, and a random-conversation property test."""

from __future__ import annotations

import random

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph_memgpt import Context
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.evict import evict_steps
from langgraph_memgpt.nodes.pressure import TRUNCATED_KEY, ContextWindowTooSmallError
from langgraph_memgpt.nodes.summarize import summarize_steps
from langgraph_memgpt.steps import drive
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn
from langgraph_memgpt.tokens import count_text, counter, message_text


def is_summarizer_call(messages) -> bool:
    return "running summary" in str(messages[0].content)


def prompt_tokens(agent_spec: AgentSpec, prompt) -> int:
    """What the budget counts for a prompt: every message plus the tool schemas."""
    return counter.messages(prompt) + agent_spec.tool_schema_tokens(None)


def test_a_message_larger_than_the_window_is_cut_in_the_queue_but_kept_in_recall(
    make_agent,
) -> None:
    document = "".join(
        f"Paragraph {i}: the quick brown fox jumps over the lazy dog. " for i in range(20_000)
    )  # about 1.2 MB
    agent = make_agent(reply("That is a long document."), context=Context(context_window=8192))
    state = agent.say(document)
    queued = state["messages"][0]
    assert isinstance(queued, HumanMessage)
    assert queued.additional_kwargs[TRUNCATED_KEY] == len(document)
    assert "message cut to fit the context window" in queued.content
    assert "conversation_search" in queued.content
    assert len(queued.content) < 20_000
    sent = agent.model.prompts[0]
    assert prompt_tokens(AgentSpec(), sent) <= 8192
    # The full text stays in the thread's checkpoints (recall memory).
    originals = [
        m
        for c in agent.history()
        for m in c.values.get("messages", [])
        if m.id == queued.id and m.content == document
    ]
    assert originals


def test_summarizer_input_larger_than_its_window_is_folded_in_chunks() -> None:
    seen: list[int] = []

    def summarizer(messages):
        seen.append(sum(count_text(message_text(m)) for m in messages))
        previous = messages[-1].content.split("Previous summary:\n")[1].split("\n\n")[0]
        return AIMessage(content=f"{previous} +chunk{len(seen)}"[-300:])

    model = ScriptedChatModel(default=summarizer)
    evicted = [HumanMessage(content=f"message {i} " + "word " * 200, id=f"m{i}") for i in range(40)]
    text, ok = drive(
        summarize_steps(model, "Start.", evicted, window_tokens=2000, max_summary_tokens=200)
    )
    assert ok
    assert len(seen) > 4, "the transcript was split into several calls"
    assert max(seen) <= 2000, "no summarizer call exceeds the summarizer's window"
    assert text.endswith(f"+chunk{len(seen)}")  # each chunk folded into the previous summary
    assert "Start." in model.prompts[0][-1].content


def test_summary_that_outgrows_its_cap_is_resummarized_then_cut() -> None:
    long = AIMessage(content="blah " * 2000)
    model = ScriptedChatModel(script=[long, AIMessage(content="short summary")])
    text, ok = drive(
        summarize_steps(
            model,
            "",
            [HumanMessage(content="hi", id="1")],
            window_tokens=8000,
            max_summary_tokens=100,
        )
    )
    assert ok and text == "short summary"
    assert "Condense this summary" in model.prompts[1][-1].content

    stubborn = ScriptedChatModel(default=long)
    text, _ = drive(
        summarize_steps(
            stubborn,
            "",
            [HumanMessage(content="hi", id="1")],
            window_tokens=8000,
            max_summary_tokens=100,
        )
    )
    assert text.endswith("[summary cut to its size limit]")
    assert count_text(text) <= 120


@pytest.mark.parametrize("failure", ["exception", "empty", "timeout"])
def test_summarizer_failure_is_retried_once_then_replaced_by_a_notice(failure) -> None:
    bad = {
        "exception": RuntimeError("boom"),
        "empty": AIMessage(content="  "),
        "timeout": TimeoutError("timed out"),
    }[failure]
    model = ScriptedChatModel(script=[bad, bad])
    evicted = [
        HumanMessage(
            content="Ada likes tea",
            id="1",
            additional_kwargs={"timestamp": "2026-01-01T10:00:00+00:00"},
        )
    ]
    text, ok = drive(
        summarize_steps(
            model, "Earlier: Ada is a pilot.", evicted, window_tokens=8000, max_summary_tokens=200
        )
    )
    assert not ok
    assert len(model.prompts) == 2  # one retry
    assert text.startswith("Earlier: Ada is a pilot.")
    assert "1 messages from 2026-01-01T10:00:00+00:00" in text
    assert "conversation_search" in text

    recovering = ScriptedChatModel(script=[bad, AIMessage(content="Ada: pilot, likes tea.")])
    text, ok = drive(
        summarize_steps(recovering, "", evicted, window_tokens=8000, max_summary_tokens=200)
    )
    assert ok and text == "Ada: pilot, likes tea."


def test_fixed_prompt_larger_than_the_window_is_a_clear_error(make_agent) -> None:
    agent = make_agent(reply("hi"), context=Context(context_window=1000))
    with pytest.raises(ContextWindowTooSmallError) as error:
        agent.say("hello")
    message = str(error.value)
    assert "context window of 1,000 tokens" in message
    assert "system instructions" in message and "tool schemas" in message


def test_eviction_keeps_the_latest_user_message_and_the_running_chain() -> None:
    model = ScriptedChatModel(default=AIMessage(content="summary"))
    agent = AgentSpec(model=model)
    ctx = Context(context_window=4000)
    queue = [HumanMessage(content="old " * 600, id=f"old{i}") for i in range(4)]
    queue.append(HumanMessage(content="latest question", id="latest"))
    chain = tool_turn(
        call("core_memory_append", label="human", content="x", request_heartbeat=True)
    )
    chain.id = "chain"
    queue.append(chain)
    queue.append(ToolMessage(content="ok", tool_call_id=chain.tool_calls[0]["id"], id="result"))

    class Rt:
        context = ctx
        store = None

    state = {"messages": queue, "blocks": agent.missing_blocks(ctx, {})}
    state["budget"] = agent.assemble(state, None, ctx)[1]
    update = drive(evict_steps(state, Rt(), agent=agent))
    removed = {m.id for m in update["messages"]}
    # The target (50%) cannot be reached without the protected tail: all old messages go,
    # the latest user message, the call and its result stay.
    assert removed == {"old0", "old1", "old2", "old3"}


def test_random_conversations_keep_every_invariant(make_agent) -> None:
    """Property test over seeded random conversations of user, AI and tool messages."""
    window = 3000
    for seed in range(4):
        rng = random.Random(seed)

        def answer(messages, rng=rng):
            if is_summarizer_call(messages):
                return AIMessage(content="summary " + "fact " * rng.randint(5, 80))
            roll = rng.random()
            if roll < 0.15:
                return AIMessage(content="plain reply " + "w " * rng.randint(1, 60))
            if roll < 0.45:
                calls = [
                    call(
                        "core_memory_replace" if rng.random() < 0.2 else "core_memory_append",
                        label="human",
                        content="note " * rng.randint(1, 5),
                        old_content="nothing-here",
                        new_content="x",
                        request_heartbeat=rng.random() < 0.7,
                    )
                    for _ in range(rng.randint(1, 3))
                ]
                return tool_turn(*calls, content="thinking " * rng.randint(0, 20))
            if roll < 0.5:
                return tool_turn(call("no_such_tool", request_heartbeat=True))
            return reply("answer " + "w " * rng.randint(1, 120))

        agent = make_agent(
            context=Context(context_window=window, block_char_limit=400, max_steps=6)
        )
        agent.thread = f"seed-{seed}"
        agent.model.default = answer
        seen_ids: set[str] = set()
        for turn in range(25):
            size = rng.choice([5, 20, 80, 300, 2500])
            agent.say(f"turn {turn} " + "lorem " * size)
            state = agent.state
            queue = state["messages"]
            seen_ids.update(m.id for m in queue)
            # 1. No prompt the model received exceeded the window.
            for prompt in agent.model.prompts:
                if not is_summarizer_call(prompt):
                    assert prompt_tokens(AgentSpec(), prompt) <= window, (seed, turn)
            agent.model.prompts.clear()
            # 2. Tool results always follow their call; the queue never starts with one.
            assert not isinstance(queue[0], ToolMessage)
            open_calls: set[str] = set()
            for message in queue:
                if isinstance(message, AIMessage):
                    open_calls = {c["id"] for c in message.tool_calls}
                    open_calls |= {c["id"] for c in message.invalid_tool_calls}
                elif isinstance(message, ToolMessage):
                    assert message.tool_call_id in open_calls, (seed, turn)
                elif not isinstance(message, SystemMessage):
                    open_calls = set()
        # 3. Every message ever queued is in the queue or in the checkpoint history.
        recall = {m.id for c in agent.history() for m in c.values.get("messages", [])}
        assert seen_ids <= recall
        assert agent.state["summary"]["message_count"] > 0, "evictions happened"
