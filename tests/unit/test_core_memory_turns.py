"""Full turns through the compiled graph: the model edits its core memory and replies."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph_memgpt import BlockSpec, Context
from langgraph_memgpt.graph.prompts import memory_view
from langgraph_memgpt.testing import call, reply, tool_turn


def tool_results(state) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


@pytest.mark.parametrize("layout", ["cached", "classic"])
def test_append_then_reply_chains_with_heartbeat(make_agent, layout: str) -> None:
    agent = make_agent(
        tool_turn(
            call("core_memory_append", label="human", content="Name: Ada", request_heartbeat=True)
        ),
        reply("Nice to meet you, Ada!"),
        context=Context(context_window=8192, prompt_layout=layout),
    )
    state = agent.say("Hi, I'm Ada.")
    assert state["blocks"]["human"]["value"].endswith("\nName: Ada")
    assert state["step"] == 2
    assert state["heartbeat"] is False
    # The second call saw the tool result and the edited block: in the classic layout in the
    # system prompt; in the cached one in the result, the system prompt left as it was (so
    # the engine's cache of it holds), the next eviction folding it in.
    first_prompt, second_prompt = agent.model.prompts[:2]
    assert isinstance(second_prompt[-1], ToolMessage)
    assert "Appended to 'human'" in second_prompt[-1].content
    if layout == "classic":
        assert "Name: Ada" in second_prompt[0].content
    else:
        assert second_prompt[0].content == first_prompt[0].content
        assert "Name: Ada" in second_prompt[-1].content
        assert "now reads" in second_prompt[-1].content


def test_replace_insert_and_rethink(make_agent) -> None:
    agent = make_agent(
        tool_turn(
            call(
                "memory_rethink",
                label="human",
                new_memory="Name: Ada\nLikes: tea",
                request_heartbeat=True,
            )
        ),
        tool_turn(
            call(
                "core_memory_replace",
                label="human",
                old_content="tea",
                new_content="coffee",
                request_heartbeat=True,
            )
        ),
        tool_turn(
            call(
                "memory_insert",
                label="human",
                content="City: Paris",
                line=1,
                request_heartbeat=True,
            )
        ),
        tool_turn(
            call("memory_insert", label="human", content="Job: engineer", request_heartbeat=True)
        ),
        reply("Noted."),
    )
    state = agent.say("I moved to Paris and I drink coffee now.")
    assert state["blocks"]["human"]["value"] == (
        "Name: Ada\nCity: Paris\nLikes: coffee\nJob: engineer"
    )
    assert all(m.status == "success" for m in tool_results(state))


def test_two_edits_of_one_block_in_one_message_both_apply(make_agent) -> None:
    agent = make_agent(
        tool_turn(
            call("core_memory_append", label="human", content="A", request_heartbeat=False),
            call("core_memory_append", label="human", content="B", request_heartbeat=False),
            call("send_message", message="Saved both."),
        ),
    )
    state = agent.say("Remember A and B.")
    assert state["blocks"]["human"]["value"].endswith("\nA\nB")
    assert state["step"] == 1


def test_plain_text_reply_ends_the_turn(make_agent) -> None:
    agent = make_agent(AIMessage(content="Hello! How can I help?"))
    state = agent.say("Hello")
    assert state["messages"][-1].content == "Hello! How can I help?"
    assert state["step"] == 1
    assert len(agent.model.prompts) == 1


def test_memory_persists_across_turns_and_steps_reset(make_agent) -> None:
    agent = make_agent(
        tool_turn(
            call("core_memory_append", label="human", content="Name: Ada", request_heartbeat=True)
        ),
        reply("Hi Ada"),
        reply("You are Ada."),
    )
    agent.say("I'm Ada")
    state = agent.say("Who am I?")
    assert state["step"] == 1
    # Shown in the edit's result until an eviction folds it into the system prompt.
    assert any("Name: Ada" in str(m.content) for m in agent.model.prompts[-1])
    assert [type(m) for m in state["messages"]][:1] == [HumanMessage]
    assert all("timestamp" in m.additional_kwargs for m in state["messages"])
    assert len({m.id for m in state["messages"]}) == len(state["messages"])


def test_extra_blocks_and_read_only_rendering(make_agent) -> None:
    agent = make_agent(
        reply("ok"),
        blocks=[BlockSpec("rules", "Be kind.", "House rules", read_only=True, limit=100)],
        context=Context(persona="I am Zed.", human="Unknown.", block_char_limit=1234),
    )
    agent.say("hi")
    system = memory_view(agent.model.prompts[0])
    assert "<rules>" in system and "read_only=true" in system
    assert "chars_current=8 chars_limit=100" in system
    assert "I am Zed." in system
    assert "chars_current=8 chars_limit=1234" in system  # 'Unknown.'


async def test_async_turn(make_agent) -> None:
    agent = make_agent(
        tool_turn(
            call(
                "core_memory_append",
                label="persona",
                content="I like jazz.",
                request_heartbeat=True,
            )
        ),
        reply("Done"),
    )
    state = await agent.asay("Do you like music?")
    assert state["blocks"]["persona"]["value"].endswith("I like jazz.")
    assert state["step"] == 2
