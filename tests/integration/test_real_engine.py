"""The agent on a real model: llama.cpp's llama-server (built by ``make test`` once per
machine) with packaged GGUF weights, through the compiled graph and real SQLite files.

SmolLM2-135M drives whole turns (fast: about a second a call on 2 cores); its answers are
not good, which is the point of a robustness test. Qwen2.5-Coder-0.5B is the model that
writes tool calls as text in the wild; it runs the three-turn conversation that showed it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.archival import default_index_config
from langgraph_memgpt.archival.store import SqliteVecStore
from langgraph_memgpt.checkpoints.history import read_log
from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
from langgraph_memgpt.engine.server import ChatLlamaCpp
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.nodes.reason import TEXT_CALLS_KEY
from langgraph_memgpt.steps import drive
from langgraph_memgpt.testing import looks_like_call_json
from pydantic import Field

pytestmark = pytest.mark.integration

SMOL = "smollm2-135m"
QWEN_SMALL = "qwen2.5-coder-0.5b"


def ai_messages(messages: list[Any]) -> list[AIMessage]:
    return [m for m in messages if isinstance(m, AIMessage)]


def test_turns_on_the_real_engine_lose_nothing_and_evict(tmp_path: Path) -> None:
    # A short output limit: SmolLM2 rambles to whatever limit it is given (the test is about
    # what reaches the files and the window, not the answers' length).
    ctx = Context(
        model=f"llamacpp:{SMOL}", context_window=4096, max_output_tokens=64, user_id="real"
    )
    model = ChatLlamaCpp(
        model_ref=SMOL, context_window=ctx.context_window, max_tokens=ctx.output_reserve
    )
    store = SqliteVecStore(tmp_path / "archive.sqlite", index=dict(default_index_config()))
    config = {"configurable": {"thread_id": "real-1"}}
    sent = [
        f"Note {n}: my cousin number {n} lives in city {n} and likes the colour {n}. " * 25
        for n in range(1, 7)
    ]
    try:
        with open_sqlite_checkpointer(tmp_path / "checkpoints.sqlite") as saver:
            agent = build_graph(model, checkpointer=saver, store=store)
            for text in sent:
                state = agent.invoke({"messages": [("user", text)]}, config, context=ctx)
            log = drive(read_log(saver, "real-1", {})).messages
    finally:
        store.close()

    # Nothing lost: every user message is in recall memory, in order.
    assert [m.content for m in log if m.type == "human"] == sent
    # Eviction ran on this small window, and the queue still fits.
    assert (state.get("summary") or {}).get("message_count", 0) > 0, state["budget"]
    # The budget is the engine's own count of the prompt, not only tiktoken's.
    budget = state["budget"]
    calls = ai_messages(log)
    reported = [m.usage_metadata["input_tokens"] for m in calls if m.usage_metadata]
    assert len(reported) == len(calls) and budget["last_call_reported"] == reported[-1]
    # SmolLM2's chat template leaves the tool schemas out, so the engine's count is well
    # below tiktoken's estimate of our prompt; the budget follows the engine's count.
    assert budget["last_call_reported"] < 0.9 * budget["last_call_estimate"]
    assert budget["budget"] < 0.9 * budget["estimate"]
    # The engine says how much of each prompt it served from its cache (the cached prompt
    # layout keeps the prefix between calls); the report includes those tokens, so the
    # budget above still counts the whole prompt.
    cached = [m.usage_metadata["input_token_details"].get("cache_read", 0) for m in calls]
    assert any(c > 0 for c in cached[1:]), cached
    assert all(c <= r for c, r in zip(cached, reported, strict=True))
    assert budget["last_call_cached"] == cached[-1]
    assert budget["last_call_processed"] == reported[-1] - cached[-1]
    # Every call left the answer its room: prompt + output limit within the window.
    for message in calls:
        usage = message.usage_metadata
        assert usage["input_tokens"] + ctx.output_reserve <= ctx.context_window
        assert usage["output_tokens"] <= ctx.output_reserve


def test_output_is_bounded_by_the_context() -> None:
    model = ChatLlamaCpp(model_ref=SMOL, context_window=2048, max_tokens=24)
    answer = model.invoke("Write a very long story about a dragon, at least ten pages.")
    assert answer.usage_metadata["output_tokens"] <= 24
    assert answer.response_metadata.get("finish_reason") == "length"


class ForcedText(ChatLlamaCpp):
    """The real engine, its sampling held by a grammar to one exact text per model call: what
    a small model writes, byte for byte, through llama-server, the OpenAI client and the
    graph. ``forced`` lists the texts of successive calls (the last one repeats)."""

    forced: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        # The graph binds the tools before each model call. llama-server refuses a grammar
        # with tool_choice "auto"; the tools are still in the chat template, as in a real call.
        text = self.forced.pop(0) if len(self.forced) > 1 else self.forced[0]
        bound = super().bind_tools(tools, tool_choice="none", **kwargs)
        return bound.bind(extra_body={"grammar": gbnf_literal(text)})


def gbnf_literal(text: str) -> str:
    return "root ::= " + json.dumps(text)


CALL = {"name": "send_message", "arguments": {"message": "Hello Ada!"}}
FORMS = {
    "bare object": json.dumps(CALL),
    "json fence": "```json\n" + json.dumps(CALL, indent=2) + "\n```",
    "doubled braces": '{{"name": "send_message", "arguments": {"message": "Hello Ada!"}}}',
    "tool_call tags": "<tool_call>\n" + json.dumps(CALL) + "\n</tool_call>",
    "text around": "I will greet her.\n" + json.dumps(CALL) + "\nDone.",
}


@pytest.mark.parametrize("form", FORMS)
def test_calls_written_as_text_by_the_real_engine_run(form: str) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    model = ForcedText(model_ref=SMOL, context_window=4096, max_tokens=120, forced=[FORMS[form]])
    agent = build_graph(model, checkpointer=InMemorySaver())
    state = agent.invoke(
        {"messages": [("user", "Hi, I'm Ada.")]},
        {"configurable": {"thread_id": form}},
        context=Context(model="llamacpp", context_window=4096),
    )
    answer = ai_messages(state["messages"])[0]
    assert answer.additional_kwargs[TEXT_CALLS_KEY] == {"calls": 1, "unreadable": 0}
    assert [reply_text(m) for m in ai_messages(state["messages"]) if reply_text(m)] == [
        "Hello Ada!"
    ]


@pytest.mark.parametrize("model_ref", [SMOL, QWEN_SMALL])
def test_an_unreadable_call_from_the_real_engine_is_corrected_on_the_next_call(
    model_ref: str,
) -> None:
    """The unreadable call goes back to the engine with the error, and the model's next answer
    runs. llama-server once answered that prompt with HTTP 500, and went on doing so while the
    call was in the window: "type must be string, but is null" for a call without a name, and,
    with Qwen's template (it renders arguments as objects), "Failed to parse tool call
    arguments as JSON"."""
    from langgraph.checkpoint.memory import InMemorySaver

    broken = '{"name": "send_message", "arguments": {"message": "Hello'
    model = ForcedText(
        model_ref=model_ref,
        context_window=4096,
        max_tokens=120,
        forced=[broken, FORMS["bare object"]],
    )
    agent = build_graph(model, checkpointer=InMemorySaver())
    state = agent.invoke(
        {"messages": [("user", "Hi, I'm Ada.")]},
        {"configurable": {"thread_id": "broken"}},
        context=Context(model="llamacpp", context_window=4096),
    )
    errors = [m for m in state["messages"] if m.type == "tool" and m.status == "error"]
    assert len(errors) == 1 and "not valid JSON" in errors[0].content
    assert [reply_text(m) for m in ai_messages(state["messages"]) if reply_text(m)] == [
        "Hello Ada!"
    ]


def test_qwen_small_model_conversation_shows_no_raw_json() -> None:
    """The three turns that showed raw JSON replies before calls written as text were read."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.store.memory import InMemoryStore

    ctx = Context(
        model=f"llamacpp:{QWEN_SMALL}", context_window=4096, max_output_tokens=192, max_steps=3
    )
    agent = build_graph(checkpointer=InMemorySaver(), store=InMemoryStore())
    config = {"configurable": {"thread_id": "ada"}}
    answers: list[AIMessage] = []
    answered_calls: set[str] = set()
    for text in (
        "Hi! My name is Ada Lovelace and I live in Lisbon.",
        "Please remember: my favourite tea is genmaicha and my dog is called Biscuit.",
        "What is my dog's name?",
    ):
        queue = agent.invoke({"messages": [("user", text)]}, config, context=ctx)["messages"]
        start = max(i for i, m in enumerate(queue) if m.type == "human")
        answers += ai_messages(queue[start + 1 :])
        answered_calls |= {m.tool_call_id for m in queue[start + 1 :] if m.type == "tool"}
    replies = [reply_text(m) for m in answers]
    assert any(replies), "no turn was answered"
    assert not any(looks_like_call_json(r) for r in replies), replies
    # Every call ran and was answered, those read from text (marked) as much as native ones.
    calls = [c["id"] for m in answers for c in m.tool_calls]
    assert set(calls) <= answered_calls, "a tool call was left without its result"


def test_the_engine_dies_with_a_killed_agent() -> None:
    """A SIGKILLed agent process (no atexit) must not leave its model server running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from langgraph_memgpt.engine.server import get_server\n"
            f"server = get_server({SMOL!r}, 2048)\n"
            "print(server.process.pid, flush=True)\n"
            "import time; time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        server_pid = int(agent.stdout.readline())
        os.kill(server_pid, 0)  # running
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        os.kill(server_pid, signal.SIGKILL)
        pytest.fail("llama-server outlived the agent that started it")
    finally:
        agent.kill()


def test_retrieved_memory_reaches_the_real_engine_and_keeps_its_cache(tmp_path: Path) -> None:
    """Automatic retrieval on Qwen2.5-Coder-0.5B: an evicted fact is found for the question
    and sent before it; the engine counts the note in the prompt (the budget agrees), and the
    next turn's call is served from the cache up to the previous turn's note."""
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.messages import HumanMessage, RemoveMessage
    from langgraph_memgpt.graph.state import Summary, utc_now
    from langgraph_memgpt.tokens import count_text

    class Usage(BaseCallbackHandler):
        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            message = response.generations[0][0].message
            self.calls.append(dict(message.usage_metadata or {}))

    ctx = Context(
        model=f"llamacpp:{QWEN_SMALL}",
        context_window=4096,
        max_output_tokens=96,
        max_steps=2,
        retrieval="recall",
    )
    usage = Usage()
    config: dict[str, Any] = {"configurable": {"thread_id": "real-retrieval"}}
    fact = "My sister Clara studies octopuses at the aquarium in Lisbon."
    questions = ("What does my sister Clara study?", "Where does Clara work?")
    with open_sqlite_checkpointer(tmp_path / "checkpoints.sqlite") as saver:
        agent = build_graph(checkpointer=saver)
        # The fact was said, then evicted: in the checkpoints (recall memory), not the queue.
        agent.update_state(
            config, {"messages": [HumanMessage(fact, id="fact")]}, as_node="execute_tools"
        )
        agent.update_state(
            config,
            {
                "messages": [RemoveMessage(id="fact"), HumanMessage("A quiet week.", id="week")],
                "summary": Summary(
                    text="The user spoke of family.", message_count=1, updated_at=utc_now()
                ),
            },
            as_node="execute_tools",
        )
        firsts, notes = [], []
        for question in questions:
            firsts.append(len(usage.calls))
            state = agent.invoke(
                {"messages": [("user", question)]}, {**config, "callbacks": [usage]}, context=ctx
            )
            retrieved = state["retrieved"]
            assert [hit["id"] for hit in retrieved["hits"]] == ["fact"], retrieved
            notes.append(retrieved["tokens"] + count_text(question))
    first_q1, first_q2 = usage.calls[firsts[0]], usage.calls[firsts[1]]
    # The engine's own count of the prompt includes the note: the budget's estimate agrees.
    budget = state["budget"]
    assert budget["retrieved"] > 0
    assert 0.5 <= budget["last_call_reported"] / budget["last_call_estimate"] <= 1.5, budget
    # The second turn re-processes from the first turn's note on, not from the head.
    cached = first_q2["input_token_details"]["cache_read"]
    assert cached >= first_q1["input_tokens"] - 2 * notes[0], (first_q1, first_q2, notes)


def test_a_consolidation_chunk_through_the_real_engine_parses(tmp_path: Path) -> None:
    """One chunk of the consolidate graph's prompts through Qwen2.5-Coder-0.5B: its answer is
    read as JSON (no note), and what it stored comes from the conversation."""
    from langgraph_memgpt.graph.consolidate import consolidate_thread
    from langgraph_memgpt.memory.archive import archive_namespace
    from langgraph_memgpt.testing import ScriptedChatModel, reply

    ctx = Context(model=f"llamacpp:{QWEN_SMALL}", context_window=4096, user_id="real")
    said = [
        "My sister Clara moved to Lisbon in March; she is a marine biologist.",
        "Our dog Pepper, a greyhound, turned five last week.",
        "I started a new job at Acme as a welder.",
    ]
    store = SqliteVecStore(tmp_path / "archive.sqlite", index=dict(default_index_config()))
    model = ChatLlamaCpp(model_ref=QWEN_SMALL, context_window=4096, max_tokens=768)
    try:
        with open_sqlite_checkpointer(tmp_path / "checkpoints.sqlite") as saver:
            agent = build_graph(ScriptedChatModel(default=reply("Noted.")), checkpointer=saver)
            config = {"configurable": {"thread_id": "real-consolidation"}}
            for text in said:
                agent.invoke({"messages": [("user", text)]}, config, context=ctx)
            report = consolidate_thread(
                "real-consolidation", checkpointer=saver, store=store, context=ctx, model=model
            )
            facts = [
                item.value["content"]
                for item in store.search(archive_namespace(ctx), limit=50)
                if item.value.get("kind") == "fact"
            ]
    finally:
        store.close()
    print(json.dumps(report, indent=1), facts)
    assert report["chunks"] == 1 and report["messages"] == 6, report
    assert not [n for n in report["notes"] if "messages 1-6" in n], report["notes"]
    assert report["facts_added"] >= 1 and facts, report
    words = ("Clara", "Lisbon", "Pepper", "greyhound", "Acme", "welder")
    assert all(any(w.lower() in fact.lower() for w in words) for fact in facts), facts
