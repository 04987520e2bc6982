"""The real ChatOllama client path, end to end against the Ollama double over HTTP.

``build_graph()`` gets no model object, so the agent builds its own ``ChatOllama`` from the
runtime context and talks NDJSON to the double like it would to ``ollama serve``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_memgpt import Context, ModelUnavailableError, build_graph
from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
from ollama_double import Answer, memory_text, send_message, user_texts

pytestmark = pytest.mark.integration

MODEL = "qwen3:4b"
WINDOW = 4096
APPEND_TOKENS = 900
REPLY_TOKENS = 1234
MEMORY_TOOLS = {"core_memory_append", "core_memory_replace", "memory_insert", "memory_rethink"}


@pytest.fixture(autouse=True)
def _no_memgpt_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Context fields fall back to MEMGPT_* variables: keep the caller's shell out of it."""
    for key in list(os.environ):
        if key.startswith("MEMGPT_"):
            monkeypatch.delenv(key)


def context_for(url: str) -> Context:
    return Context(model=f"ollama:{MODEL}", ollama_base_url=url, context_window=WINDOW)


def config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def ada_script() -> list[Answer]:
    """The model saves the user's name (heartbeat as the string "true"), then replies."""
    return [
        Answer(
            tool_calls=[
                {
                    "name": "core_memory_append",
                    "arguments": {
                        "label": "human",
                        "content": "Name: Ada",
                        "request_heartbeat": "true",
                    },
                }
            ],
            prompt_eval_count=APPEND_TOKENS,
        ),
        Answer(
            tool_calls=[
                {"name": "send_message", "arguments": {"message": "Nice to meet you, Ada!"}}
            ],
            prompt_eval_count=REPLY_TOKENS,
        ),
    ]


def sent_replies(messages: list[Any]) -> list[str]:
    return [
        call["args"]["message"]
        for message in messages
        if isinstance(message, AIMessage)
        for call in message.tool_calls
        if call["name"] == "send_message"
    ]


def check_ada_turn(result: dict[str, Any], double: Any) -> None:
    """What the happy-path turn must leave behind, in the state and on the wire."""
    human = result["blocks"]["human"]["value"]
    assert "Name: Ada" in human
    assert result["blocks"]["persona"]["value"]  # untouched default persona still there

    messages = result["messages"]
    tool_results = [m for m in messages if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_results] == ["core_memory_append", "send_message"]
    assert all(m.status != "error" for m in tool_results), [m.content for m in tool_results]
    # The heartbeat came from request_heartbeat="true", not from the "no reply yet" fallback.
    assert not any(isinstance(m, SystemMessage) for m in messages)
    assert sent_replies(messages) == ["Nice to meet you, Ada!"]

    requests = double.chat_requests()
    assert len(requests) == 2, "request_heartbeat='true' must chain a second model call"
    for request in requests:
        assert request["model"] == MODEL
        assert request["options"]["num_ctx"] == WINDOW
        tools = {tool["function"]["name"]: tool["function"] for tool in request["tools"]}
        # No store in this run, so the archival tools are not offered.
        assert set(tools) == {"send_message", "conversation_search", *MEMORY_TOOLS}
        assert len(request["tools"]) == len(tools)
        for name, function in tools.items():
            required = function["parameters"].get("required", [])
            if name == "send_message":
                assert "request_heartbeat" not in required
            else:
                assert "request_heartbeat" in required, name
                assert function["parameters"]["properties"]["request_heartbeat"]["type"] == (
                    "boolean"
                )
    # The second call's prompt carries the edited block.
    assert "Name: Ada" in memory_text(requests[1]["messages"])

    assert result["budget"]["context_window"] == WINDOW
    assert result["budget"]["last_call_reported"] == REPLY_TOKENS


def test_memory_edit_then_reply_through_chat_ollama(make_double) -> None:
    double = make_double(script=ada_script())
    graph = build_graph(checkpointer=InMemorySaver())

    result = graph.invoke(user("My name is Ada"), config("ada"), context=context_for(double.url))

    check_ada_turn(result, double)


def test_an_older_ollama_counting_only_reprocessed_tokens_does_not_shrink_the_budget(
    make_double,
) -> None:
    """Before 0.30, Ollama's prompt_eval_count was only what it re-processed: with the prompt
    cached, a few dozen tokens of a prompt of thousands. The window guard keeps the estimate."""
    script = ada_script()
    for answer in script:
        answer.prompt_eval_count = 40
    double = make_double(script=script)
    graph = build_graph(checkpointer=InMemorySaver())

    result = graph.invoke(user("My name is Ada"), config("ada"), context=context_for(double.url))

    budget = result["budget"]
    assert budget["last_call_reported"] == 40
    assert budget["last_call_estimate"] > 1000
    assert budget["budget"] == budget["estimate"]


async def test_memory_edit_then_reply_async(make_double) -> None:
    double = make_double(script=ada_script())
    graph = build_graph(checkpointer=InMemorySaver())

    result = await graph.ainvoke(
        user("My name is Ada"), config("ada-async"), context=context_for(double.url)
    )

    check_ada_turn(result, double)


def test_malformed_tool_call_json_is_answered_with_an_error(make_double) -> None:
    double = make_double(
        script=[
            Answer(
                tool_calls=[
                    {"name": "core_memory_append", "arguments": '{"label": "human", "content": '}
                ]
            ),
            send_message("Sorry, let me try that again."),
        ]
    )
    graph = build_graph(checkpointer=InMemorySaver())
    ctx = context_for(double.url)

    result = graph.invoke(user("My name is Ada"), config("broken"), context=ctx)

    errors = [m for m in result["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    assert len(errors) == 1
    assert "JSON" in errors[0].content
    assert len(double.chat_requests()) == 2, "the failed call must force another model call"
    assert sent_replies(result["messages"]) == ["Sorry, let me try that again."]
    assert result["blocks"]["human"]["value"] == ctx.human
    assert result["blocks"]["persona"]["value"] == ctx.persona


def test_dead_server_raises_one_line_model_unavailable(dead_url: str) -> None:
    graph = build_graph(checkpointer=InMemorySaver())

    with pytest.raises(ModelUnavailableError) as raised:
        graph.invoke(user("hello"), config("dead"), context=context_for(dead_url))

    text = str(raised.value)
    assert "\n" not in text.strip()
    assert dead_url in text
    assert MODEL in text


def test_model_not_pulled_raises_model_unavailable(make_double) -> None:
    double = make_double(models=("other:1b",))
    graph = build_graph(checkpointer=InMemorySaver())

    with pytest.raises(ModelUnavailableError) as raised:
        graph.invoke(user("hello"), config("not-pulled"), context=context_for(double.url))

    text = str(raised.value)
    assert "\n" not in text.strip()
    assert MODEL in text
    assert double.url in text
    assert [r["model"] for r in double.chat_requests()] == [MODEL]


def test_second_turn_on_sqlite_thread_sees_first_turn(make_double, tmp_path) -> None:
    double = make_double(script=ada_script())
    db = tmp_path / "checkpoints.sqlite"
    ctx = context_for(double.url)

    with open_sqlite_checkpointer(db) as saver:
        first = build_graph(checkpointer=saver).invoke(
            user("My name is Ada"), config("ada-sqlite"), context=ctx
        )
    assert "Name: Ada" in first["blocks"]["human"]["value"]
    assert len(double.chat_requests()) == 2

    # A new process would reopen the file and compile a new graph: do the same.
    double.script.append(send_message("You are Ada."))
    with open_sqlite_checkpointer(db) as saver:
        second = build_graph(checkpointer=saver).invoke(
            user("What is my name?"), config("ada-sqlite"), context=ctx
        )

    requests = double.chat_requests()
    assert len(requests) == 3
    prompt = requests[2]["messages"]
    assert user_texts(prompt) == ["My name is Ada", "What is my name?"]
    assistant_calls = [
        call["function"]
        for m in prompt
        if m["role"] == "assistant"
        for call in m.get("tool_calls") or []
    ]
    assert {"name": "send_message", "arguments": {"message": "Nice to meet you, Ada!"}} in (
        assistant_calls
    )
    assert prompt[0]["role"] == "system"
    assert "Name: Ada" in memory_text(prompt)

    humans = [m.content for m in second["messages"] if isinstance(m, HumanMessage)]
    assert humans == ["My name is Ada", "What is my name?"]
    assert sent_replies(second["messages"]) == ["Nice to meet you, Ada!", "You are Ada."]
