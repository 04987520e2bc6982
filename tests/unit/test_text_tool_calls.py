"""Tool calls written as text, in the forms small models really write them, become real calls.

The forms are the ones seen from Qwen2.5-Coder 0.5B/1.5B on llama.cpp (a bare object, doubled
braces, a ```json fence) plus the other common ones (tags, lists, prose around the call).
Each form is read by the parser; the graph tests (scripted model) check that a call read from
text runs, that the user never sees the JSON, and that unreadable call-like text is answered
with a corrective error while the turn goes on. Prose and code samples that merely contain
JSON stay a reply.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.nodes.tool_text import parse_text_calls

TOOLS = {"send_message", "core_memory_append", "archival_memory_insert"}
SEND = {"name": "send_message", "arguments": {"message": "Hello Ada!"}}
APPEND = {
    "name": "core_memory_append",
    "arguments": {"label": "human", "content": "Name: Ada", "request_heartbeat": True},
}

FORMS = {
    "bare object": json.dumps(SEND),
    "parameters key": json.dumps({"name": "send_message", "parameters": {"message": "Hello Ada!"}}),
    "arguments as a JSON string": json.dumps(
        {"name": "send_message", "arguments": json.dumps({"message": "Hello Ada!"})}
    ),
    "arguments beside the name": json.dumps({"name": "send_message", "message": "Hello Ada!"}),
    "openai function object": json.dumps({"type": "function", "function": SEND}),
    "doubled braces": '{{"name": "send_message", "arguments": {"message": "Hello Ada!"}}}',
    "doubled braces inside too": '{{"name": "send_message", "arguments": {{"message": '
    '"Hello Ada!"}}}}',
    "json fence": f"```json\n{json.dumps(SEND, indent=2)}\n```",
    "bare fence": f"```\n{json.dumps(SEND)}\n```",
    "tool_call tags": f"<tool_call>\n{json.dumps(SEND)}\n</tool_call>",
    "unclosed tool_call tag": f"<tool_call>\n{json.dumps(SEND)}",
    "text before": f"Sure, I will greet her.\n{json.dumps(SEND)}",
    "text after": f"{json.dumps(SEND)}\nI greeted the user.",
    "fence inside prose": f"I'll reply now:\n```json\n{json.dumps(SEND)}\n```\nDone.",
    "last brace missing": json.dumps(SEND)[:-1],
    "last brace missing in tags": f"<tool_call>\n{json.dumps(SEND)[:-1]}\n</tool_call>",
}


@pytest.mark.parametrize("form", FORMS)
def test_each_form_is_read_as_one_send_message(form: str) -> None:
    found = parse_text_calls(FORMS[form], TOOLS)
    assert not found.errors, found.errors
    assert [(c["name"], c["args"]) for c in found.calls] == [
        ("send_message", {"message": "Hello Ada!"})
    ]
    assert "{" not in found.text and "Hello Ada" not in found.text


def test_several_calls_in_one_answer() -> None:
    as_list = parse_text_calls(json.dumps([APPEND, SEND]), TOOLS)
    in_tags = parse_text_calls(
        f"<tool_call>{json.dumps(APPEND)}</tool_call>\n<tool_call>{json.dumps(SEND)}</tool_call>",
        TOOLS,
    )
    one_after_another = parse_text_calls(f"{json.dumps(APPEND)}\n{json.dumps(SEND)}", TOOLS)
    for found in (as_list, in_tags, one_after_another):
        assert [c["name"] for c in found.calls] == ["core_memory_append", "send_message"]
        assert found.calls[0]["args"]["content"] == "Name: Ada"


def test_plain_answers_and_other_json_are_left_alone() -> None:
    for text in (
        "Hello! How can I help?",
        'Here is the config: {"title": "Cat Name Change"}',
        '{"title": "Cat Name Change"}',
        "```python\nprint({'a': 1})\n```",
        '{"name": "Ada", "age": 36}',  # a name, but no tool of that name and no arguments
        'Write it as {"name": ..., "age": ...} with your values.',  # not JSON, not a call
        '```json\n{"name": "Ada", "age": 36}\n```',  # a code sample in a fence
    ):
        found = parse_text_calls(text, TOOLS)
        assert not found.found, text
        assert found.text == text.strip()


def test_a_copied_tool_result_is_never_a_reply() -> None:
    echo = "<tool_response>\nMessage sent to the user.\n</tool_response>"
    alone = parse_text_calls(echo, TOOLS)
    assert not alone.calls and alone.text == ""
    assert "call send_message" in alone.errors[0][1]
    with_reply = parse_text_calls(f"{echo}\nHello again!", TOOLS)
    assert not with_reply.errors and with_reply.text == "Hello again!"
    with_call = parse_text_calls(f"{echo}\n{json.dumps(SEND)}", TOOLS)
    assert [c["name"] for c in with_call.calls] == ["send_message"] and not with_call.errors


def test_broken_call_text_is_an_error_not_a_reply() -> None:
    for text in (
        '{"name": "send_message", "arguments": {"message": "Hello Ad',  # cut off mid-string
        "<tool_call>\n{name: send_message}\n</tool_call>",
        '```json\n{"name": "send_message", "arguments": {"message": }}\n```',
    ):
        found = parse_text_calls(text, TOOLS)
        assert not found.calls and found.errors, text
        assert "not valid JSON" in found.errors[0][1]


def test_through_the_graph_raw_json_never_reaches_the_user(make_agent) -> None:
    agent = make_agent(
        AIMessage(content=json.dumps(APPEND)),
        AIMessage(content=f"```json\n{json.dumps(SEND)}\n```"),
    )
    state = agent.say("Hi, I'm Ada.")
    assert state["blocks"]["human"]["value"].endswith("Name: Ada")
    replies = [reply_text(m) for m in state["messages"] if isinstance(m, AIMessage)]
    assert [r for r in replies if r] == ["Hello Ada!"]
    assert not any("{" in (r or "") for r in replies)
    marked = [m.additional_kwargs.get("tool_calls_from_text") for m in state["messages"]]
    assert marked.count({"calls": 1, "unreadable": 0}) == 2


def test_unreadable_call_gets_the_corrective_error_and_the_turn_goes_on(make_agent) -> None:
    agent = make_agent(
        AIMessage(content='{"name": "send_message", "arguments": {"message": "Hi'),
        AIMessage(content=json.dumps(SEND)),
    )
    state = agent.say("Hi, I'm Ada.")
    errors = [m for m in state["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    assert len(errors) == 1
    assert "not valid JSON" in errors[0].content and '"arguments"' in errors[0].content
    # The model saw the error and wrote the call again; the user saw only the real reply.
    assert "not valid JSON" in agent.model.prompts[1][-1].content
    # The unreadable call went back named, its arguments a JSON object holding what the model
    # wrote (servers reject a null name, and arguments that are not JSON).
    sent_back = agent.model.prompts[1][-2].invalid_tool_calls[0]
    assert sent_back["name"] == "unknown"
    written = '{"name": "send_message", "arguments": {"message": "Hi'
    assert json.loads(sent_back["args"]) == {"unparsed": written}
    assert [reply_text(m) for m in state["messages"] if isinstance(m, AIMessage)][-1] == (
        "Hello Ada!"
    )


def test_the_terminal_never_streams_a_call_written_as_text() -> None:
    import io

    from langgraph_memgpt.cli.chat import Printer

    out = io.StringIO()
    printer = Printer(out, color=False)
    for answer in (
        ['{"na', 'me": "send_message"}'],
        ["`", "``json", ' {"name": 1}'],
        ["Hel", "lo"],
    ):
        for token in answer:
            printer.token(token)
        printer.end_stream()
    assert out.getvalue() == "  … Hello\n"


def test_unreadable_calls_go_back_as_json_objects_whatever_they_hold() -> None:
    """Servers reject a prompt with a call whose arguments are not a JSON object (llama-server
    with Qwen's template: HTTP 500 on every later call), so what the model wrote is wrapped."""
    from langchain_core.messages.tool import invalid_tool_call
    from langgraph_memgpt.graph.prompts import for_model

    written = ["", '{"message": "Hi', "[" * 5_000, '{"message": "Hi"}']
    answer = AIMessage(
        content="",
        invalid_tool_calls=[
            invalid_tool_call(name=None, args=text, id=f"c{i}", error="bad")
            for i, text in enumerate(written)
        ],
    )
    sent = for_model([answer])[0].invalid_tool_calls
    assert [json.loads(call["args"]) for call in sent] == [
        {"unparsed": ""},
        {"unparsed": '{"message": "Hi'},
        {"unparsed": "[" * 5_000},
        {"message": "Hi"},
    ]
    assert {call["name"] for call in sent} == {"unknown"}
