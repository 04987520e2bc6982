"""Bad tool calls never crash the graph and never change state.

Each returns an error ToolMessage explaining what is wrong and forces a heartbeat, so the
model gets another step to correct itself (here it then replies).
"""

import pytest
from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import invalid_tool_call
from langgraph_memgpt import BlockSpec, Context
from langgraph_memgpt.testing import call, reply, tool_turn

BAD_CALLS = {
    "unknown tool": (
        call("delete_everything", request_heartbeat=False),
        "there is no tool 'delete_everything'",
    ),
    "missing field": (
        call("core_memory_append", label="human", request_heartbeat=False),
        "missing required argument 'content'",
    ),
    "wrong type": (
        call("memory_insert", label="human", content="x", line="third", request_heartbeat=False),
        "argument 'line'",
    ),
    "unknown label": (
        call("core_memory_append", label="friends", content="Bob", request_heartbeat=False),
        "there is no memory block 'friends'. Blocks: human, persona, rules",
    ),
    "read-only block": (
        call("core_memory_append", label="rules", content="No rules", request_heartbeat=False),
        "'rules' is read-only",
    ),
    "replace text not found": (
        call(
            "core_memory_replace",
            label="human",
            old_content="Name: Bob",
            new_content="x",
            request_heartbeat=False,
        ),
        "old_content was not found in block 'human'",
    ),
    "over the limit": (
        call("core_memory_append", label="human", content="x" * 200, request_heartbeat=False),
        "over its limit of 120; nothing was changed",
    ),
    "insert line out of range": (
        call("memory_insert", label="human", content="x", line=9, request_heartbeat=False),
        "line 9 is out of range",
    ),
}


@pytest.mark.parametrize("case", BAD_CALLS, ids=list(BAD_CALLS))
def test_bad_call_explains_changes_nothing_and_forces_heartbeat(make_agent, case) -> None:
    bad, expected = BAD_CALLS[case]
    agent = make_agent(
        AIMessage(content="", tool_calls=[bad]),
        reply("Sorry, fixed."),
        blocks=[BlockSpec("rules", "Be kind.", "House rules", read_only=True)],
        context=Context(human="Name: Ada", block_char_limit=120),
    )
    state = agent.say("Please remember something.")
    errors = [m for m in state["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    assert len(errors) == 1
    assert expected in errors[0].content
    assert "Heartbeat forced" in errors[0].content
    assert state["blocks"]["human"]["value"] == "Name: Ada"
    assert state["blocks"]["rules"]["value"] == "Be kind."
    assert len(agent.model.prompts) == 2  # the model was called again to correct itself
    assert state["step"] == 2


def test_unparsable_call_reported_by_the_client_is_answered(make_agent) -> None:
    broken = AIMessage(
        content="",
        invalid_tool_calls=[
            invalid_tool_call(
                name="core_memory_append", args="{oops", id="call-x", error="not valid JSON"
            )
        ],
    )
    agent = make_agent(broken, reply("Retrying worked."))
    state = agent.say("hi")
    error = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert error.status == "error" and "not valid JSON" in error.content
    assert len(agent.model.prompts) == 2


def test_heartbeat_given_as_string_is_understood(make_agent) -> None:
    agent = make_agent(
        tool_turn(
            call("core_memory_append", label="human", content="Likes tea", request_heartbeat="true")
        ),
        reply("Noted"),
    )
    state = agent.say("I like tea")
    assert state["blocks"]["human"]["value"].endswith("Likes tea")
    assert len(agent.model.prompts) == 2
    assert not any(isinstance(m, SystemMessage) for m in state["messages"])


def test_heartbeat_false_string_ends_a_turn_that_already_replied(make_agent) -> None:
    agent = make_agent(
        tool_turn(
            call("send_message", message="Got it."),
            call(
                "core_memory_append", label="human", content="Likes tea", request_heartbeat="false"
            ),
        ),
    )
    state = agent.say("I like tea")
    assert state["heartbeat"] is False
    assert len(agent.model.prompts) == 1


def test_step_limit_stops_the_turn_with_a_note(make_agent) -> None:
    looping = tool_turn(
        call("core_memory_append", label="persona", content=".", request_heartbeat=True)
    )
    agent = make_agent(context=Context(max_steps=4, block_char_limit=100_000))
    agent.model.default = looping
    state = agent.say("Go")
    assert state["step"] == 4
    assert len(agent.model.prompts) == 4
    note = state["messages"][-1]
    assert isinstance(note, SystemMessage) and "Step limit reached: 4" in note.content
    assert state["heartbeat"] is False
    # The thread stays usable: the next turn starts from step 0.
    agent.model.default = reply("Back again.")
    state = agent.say("Hello?")
    assert state["step"] == 1


def test_a_tool_that_raises_is_reported_not_propagated(make_agent) -> None:
    from langchain_core.tools import tool

    @tool
    def flaky(x: int) -> str:
        """A tool with a bug."""
        raise ZeroDivisionError("division by zero")

    agent = make_agent(
        tool_turn(call("flaky", x=1, request_heartbeat=False)),
        reply("That tool is broken."),
        tools=[flaky],
    )
    state = agent.say("Use flaky")
    error = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert "ZeroDivisionError" in error.content and error.status == "error"
    assert len(agent.model.prompts) == 2


def test_a_model_that_keeps_failing_gets_a_bounded_retry_then_a_message(make_agent) -> None:
    from langgraph_memgpt.graph.prompts import reply_text
    from langgraph_memgpt.nodes.execute_tools import MAX_FAILED_STEPS

    agent = make_agent(context=Context(max_steps=50))
    agent.model.default = tool_turn(call("delete_everything", request_heartbeat=True))
    state = agent.say("Go")
    assert len(agent.model.prompts) == MAX_FAILED_STEPS
    last = state["messages"][-1]
    assert isinstance(last, AIMessage) and state["heartbeat"] is False
    text = reply_text(last)
    assert text and "\n" not in text and "no tool 'delete_everything'" in text
    # A success in between resets the count; the next turn works.
    agent.model.default = reply("Back.")
    assert reply_text(agent.say("Hello?")["messages"][-2]) == "Back."
