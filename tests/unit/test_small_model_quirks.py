"""What small local models get wrong, handled the way a user would want."""

from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.nodes.execute_tools import NO_REPLY_NOTE
from langgraph_memgpt.nodes.reason import EMPTY_REPLY
from langgraph_memgpt.testing import call, reply, tool_turn


def test_forgotten_heartbeat_after_a_user_message_still_gets_a_reply(make_agent) -> None:
    agent = make_agent(
        tool_turn(call("core_memory_append", label="human", content="Name: Ada")),
        reply("Nice to meet you, Ada."),
    )
    state = agent.say("I'm Ada")
    notes = [m for m in state["messages"] if isinstance(m, SystemMessage)]
    assert [n.content for n in notes] == [NO_REPLY_NOTE]
    assert reply_text(state["messages"][-2]) == "Nice to meet you, Ada."
    assert len(agent.model.prompts) == 2


def test_explicit_false_heartbeat_without_a_reply_is_also_continued(make_agent) -> None:
    agent = make_agent(
        tool_turn(call("core_memory_append", label="human", content="x", request_heartbeat=False)),
        reply("Saved."),
    )
    agent.say("Remember x")
    assert len(agent.model.prompts) == 2


def test_arguments_wrapped_in_a_json_string(make_agent) -> None:
    wrapped = call(
        "core_memory_append",
        arguments='{"label": "human", "content": "Likes tea", "request_heartbeat": true}',
    )
    agent = make_agent(tool_turn(wrapped), reply("Noted."))
    state = agent.say("I like tea")
    assert state["blocks"]["human"]["value"].endswith("Likes tea")
    result = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert result.status == "success"


def test_text_mixed_with_a_tool_call(make_agent) -> None:
    agent = make_agent(
        tool_turn(
            call(
                "core_memory_append",
                label="human",
                content="Has a dog named Rex",
                request_heartbeat=False,
            ),
            content="Great, a dog! Let me note that.",
        ),
        reply("Rex is a great name!"),
    )
    state = agent.say("I have a dog named Rex")
    # The edit runs; text beside a tool call is the model's inner monologue (MemGPT), kept in
    # the queue, and since the user has no reply yet the model gets a step to send one.
    assert state["blocks"]["human"]["value"].endswith("Has a dog named Rex")
    ai = [m for m in state["messages"] if isinstance(m, AIMessage)]
    assert ai[0].content == "Great, a dog! Let me note that."
    assert reply_text(ai[-1]) == "Rex is a great name!"
    assert len(agent.model.prompts) == 2


def test_think_tags_are_kept_out_of_the_queue(make_agent) -> None:
    agent = make_agent(AIMessage(content="<think>The user greets me.</think>Hello!"))
    state = agent.say("hi")
    last = state["messages"][-1]
    assert last.content == "Hello!"
    assert last.additional_kwargs["reasoning_content"] == "The user greets me."


def test_empty_answer_is_retried_once(make_agent) -> None:
    agent = make_agent(AIMessage(content=""), AIMessage(content="Hi there"))
    state = agent.say("hi")
    assert state["messages"][-1].content == "Hi there"
    assert len(agent.model.prompts) == 2
    # The retry says what was wrong (a greedy local model would end at once again), and the
    # note is not kept in the queue.
    assert "Your answer was empty" in agent.model.prompts[1][-1].content
    assert not any("Your answer was empty" in str(m.content) for m in state["messages"])


def test_the_notice_of_an_empty_answer_is_for_the_user_not_the_model(make_agent) -> None:
    # Shown the notice as its own words, Qwen2.5-Coder-1.5B answered every later turn with it.
    agent = make_agent(AIMessage(content=""), AIMessage(content=""), reply("Hello, Ada!"))
    first = agent.say("hi")
    assert reply_text(first["messages"][-1]) == EMPTY_REPLY  # the user is told, nothing lost
    agent.say("I'm Ada")
    prompt = agent.model.prompts[-1]
    assert not any(EMPTY_REPLY in str(m.content) for m in prompt)
    assert [m.content for m in prompt if m.type == "human"][-2:] == ["hi", "I'm Ada"]
