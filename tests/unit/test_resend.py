"""A turn delivered twice is answered once: no second model call, no repeated memory edit, no
second passage, and recall memory shows the turn once (the crash promise's planted faults,
reproduced in one process without killing anything)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.store.memory import InMemoryStore
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.checkpoints.history import read_log, replayed_writes
from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
from langgraph_memgpt.steps import drive
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn

CTX = Context(context_window=8192, model="scripted")


def remember_then_reply(name: str):
    """A model that appends ``name`` to the human block, archives it, then replies."""

    def answer(prompt: list[Any]) -> AIMessage:
        after_user = prompt[max(i for i, m in enumerate(prompt) if m.type == "human") + 1 :]
        done = {m.name for m in after_user if m.type == "tool"}
        if "core_memory_append" not in done:
            return tool_turn(
                call("core_memory_append", label="human", content=name, request_heartbeat=True)
            )
        if "archival_memory_insert" not in done:
            return tool_turn(
                call("archival_memory_insert", content=f"The user is {name}.", request_heartbeat=1)
            )
        return reply(f"Hello {name}!")

    return answer


def test_a_message_sent_again_with_its_id_is_answered_once() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    model = ScriptedChatModel(default=remember_then_reply("Ada"))
    store = InMemoryStore()
    agent = build_graph(model, checkpointer=InMemorySaver(), store=store)
    config = {"configurable": {"thread_id": "t"}}
    message = {"role": "user", "content": "I'm Ada.", "id": "msg-1"}

    first = agent.invoke({"messages": [message]}, config, context=CTX)
    calls = len(model.prompts)
    again = agent.invoke({"messages": [message]}, config, context=CTX)

    assert len(model.prompts) == calls, "the model was called again for an answered message"
    assert again["blocks"]["human"]["value"].count("Ada") == 1
    assert [m.id for m in again["messages"]] == [m.id for m in first["messages"]]
    replies = [c for m in again["messages"] if m.type == "ai" for c in m.tool_calls]
    assert sum(c["name"] == "send_message" for c in replies) == 1
    assert len(store.search(("archival", "default"))) == 1
    # A new message (another id) is a new turn.
    agent.invoke({"messages": [{**message, "id": "msg-2"}]}, config, context=CTX)
    assert len(model.prompts) > calls


def test_a_message_sent_again_as_the_window_crosses_the_warning_is_answered_once() -> None:
    """The long reply fills the window past the warning only after the turn's last check, so
    the re-sent message's check is the one that would alert: no alert, no second answer."""
    from langgraph.checkpoint.memory import InMemorySaver

    model = ScriptedChatModel(default=reply("word " * 900))
    agent = build_graph(model, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    small = Context(context_window=4096, model="scripted")
    message = {"role": "user", "content": "Tell me a long story.", "id": "msg-1"}
    first = agent.invoke({"messages": [message]}, config, context=small)
    again = agent.invoke({"messages": [message]}, config, context=small)
    assert len(model.prompts) == 1
    assert [m.type for m in again["messages"]] == [m.type for m in first["messages"]]
    # A new message is answered, and it is the one the alert comes with.
    later = agent.invoke({"messages": [("user", "And another?")]}, config, context=small)
    assert len(model.prompts) == 2 and any(m.type == "system" for m in later["messages"])


def test_a_lost_turn_sent_again_stores_its_passage_once() -> None:
    """The first attempt stored the passage but its checkpoints were lost (new call ids)."""
    from langgraph.checkpoint.memory import InMemorySaver

    store = InMemoryStore()
    for _attempt in range(2):  # a fresh thread each time: the first attempt left no state
        model = ScriptedChatModel(default=remember_then_reply("Ada"))
        agent = build_graph(model, checkpointer=InMemorySaver(), store=store)
        agent.invoke(
            {"messages": [{"role": "user", "content": "I'm Ada."}]},
            {"configurable": {"thread_id": "t"}},
            context=CTX,
        )
    assert [i.value["content"] for i in store.search(("archival", "default"))] == [
        "The user is Ada."
    ]


def test_writes_of_a_turn_whose_last_checkpoint_was_lost_stay_out_of_recall(
    tmp_path: Path,
) -> None:
    """``durability="exit"`` stores a turn's messages as writes on the checkpoint it started
    from, then its one checkpoint. If that last write fails (the process died), the writes
    belong to no state; the turn sent again must show once in recall memory, as in the queue."""
    model = ScriptedChatModel(default=remember_then_reply("Ada"))
    config = {"configurable": {"thread_id": "t"}}
    with open_sqlite_checkpointer(tmp_path / "c.sqlite") as saver:
        agent = build_graph(model, checkpointer=saver, store=InMemoryStore())
        say = {"messages": [{"role": "user", "content": "First turn."}]}
        agent.invoke(say, config, context=CTX, durability="exit")

        original_put = saver.put
        saver.put = lambda *a, **k: (_ for _ in ()).throw(OSError("killed"))  # type: ignore
        second = {"messages": [{"role": "user", "content": "Second turn."}]}
        with pytest.raises(OSError):
            agent.invoke(second, config, context=CTX, durability="exit")
        saver.put = original_put  # type: ignore[method-assign]

        agent.invoke(second, config, context=CTX, durability="exit")
        queue = agent.get_state(config).values["messages"]
        log = drive(read_log(saver, "t", {})).messages

    assert [m.content for m in log if m.type == "human"] == ["First turn.", "Second turn."]
    assert [m.id for m in log] == [m.id for m in queue]


def test_replayed_writes_rules() -> None:
    checkpoints = {
        "b": ("a", False),  # a's writes replayed into b
        "d": ("c", True),  # c's only child snapshots the queue: c's writes are shadowed
        "f": ("e", True),
        "g": ("e", False),  # e has a child that replays its writes (a branch)
    }
    decide = replayed_writes(checkpoints, newest="z")
    assert decide("a") is True
    assert decide("c") is False
    assert decide("e") is True
    assert decide("x") is True  # its child was read in an earlier batch
    assert decide("z") is None  # the newest, no child yet: undecided
