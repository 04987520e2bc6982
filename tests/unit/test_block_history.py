"""Block history (``memory/block_history.py``) and the terminal chat's ``/history``.

Versions come from the thread's checkpoints along its current branch: one per step under
LangGraph's default durability, one per turn under the chat's ``durability="exit"``; the edit
that made each is the agent's tool call, an outside update, or the block's creation.
"""

from __future__ import annotations

import io
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.cli.chat import CHAT_HELP, ChatSession, Printer, run_command, run_turn
from langgraph_memgpt.memory import block_history
from langgraph_memgpt.memory.block_history import OUTSIDE_EDIT, describe_call, edit_metadata
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn

CONTEXT = Context(context_window=8192)
HUMAN = CONTEXT.human


def append(content: str, label: str = "human") -> dict[str, Any]:
    return call("core_memory_append", label=label, content=content, request_heartbeat=True)


def config(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}, **extra}


def say(graph: Any, thread: str, text: str, **options: Any) -> None:
    graph.invoke(
        {"messages": [{"role": "user", "content": text}]},
        config(thread),
        context=CONTEXT,
        **options,
    )


def test_a_turn_saved_once_shows_its_edits_and_refused_calls_are_not_edits() -> None:
    model = ScriptedChatModel(
        script=[
            tool_turn(append("Name: Ada")),
            tool_turn(append("x" * 6000)),  # over the limit: refused, not an edit
            reply("Hi Ada!"),
            tool_turn(
                call(
                    "core_memory_replace",
                    label="human",
                    old_content="Ada",
                    new_content="Ada Lovelace",
                    request_heartbeat=True,
                ),
                append("Sings.", label="persona"),  # another block: not this one's edit
            ),
            reply("Noted."),
        ]
    )
    graph = build_graph(model, checkpointer=InMemorySaver())
    say(graph, "exit", "I'm Ada", durability="exit")
    say(graph, "exit", "Actually, Ada Lovelace", durability="exit")
    block = graph.get_state(config("exit")).values["blocks"]["human"]
    graph.update_state(
        config("exit"),
        {"blocks": {"human": {**block, "value": "Rewritten."}}},
        as_node="execute_tools",
    )

    versions = block_history(graph, "exit", "human")

    assert [(v.kind, v.edit) for v in versions] == [
        ("created", 'created, then core_memory_append("Name: Ada")'),
        ("agent", 'core_memory_replace("Ada" -> "Ada Lovelace")'),
        ("update", OUTSIDE_EDIT),
    ]
    assert [v.value for v in versions] == [
        f"{HUMAN}\nName: Ada",
        f"{HUMAN}\nName: Ada Lovelace",
        "Rewritten.",
    ]
    assert versions[1].calls == (
        {
            "name": "core_memory_replace",
            "args": {
                "label": "human",
                "old_content": "Ada",
                "new_content": "Ada Lovelace",
                "request_heartbeat": True,
            },
        },
    )
    assert all(v.checkpoint_id and v.saved_at for v in versions)
    persona = block_history(graph, "exit", "persona")
    assert [v.edit for v in persona] == ["created", 'core_memory_append("Sings.")']


def test_only_the_current_branch_counts_and_outside_edits_can_name_themselves() -> None:
    model = ScriptedChatModel(
        script=[
            tool_turn(append("Likes tea.")),
            reply("Noted."),
            tool_turn(append("Likes coffee.")),
            reply("Noted."),
            tool_turn(append("Likes cocoa.")),
            reply("Noted."),
        ]
    )
    graph = build_graph(model, checkpointer=InMemorySaver())
    say(graph, "branch", "Tea, please.")
    after_first = graph.get_state(config("branch")).config
    say(graph, "branch", "Coffee, please.")
    # The second turn again, differently (a regenerated or edited chat turn): a fork.
    graph.invoke(
        {"messages": [{"role": "user", "content": "Cocoa, please."}]},
        after_first,
        context=CONTEXT,
    )
    block = graph.get_state(config("branch")).values["blocks"]["human"]
    graph.update_state(
        config("branch", metadata=edit_metadata("PATCH /memory/core/human")),
        {"blocks": {"human": {**block, "value": block["value"] + "\nNo sugar."}}},
        as_node="execute_tools",
    )

    versions = block_history(graph, "branch", "human")

    assert [v.edit for v in versions] == [
        "created",
        'core_memory_append("Likes tea.")',
        'core_memory_append("Likes cocoa.")',
        "PATCH /memory/core/human",
    ]
    assert "coffee" not in versions[-1].value


def test_describe_call_shortens_long_arguments() -> None:
    line = describe_call("memory_rethink", {"label": "human", "new_memory": "y" * 500})
    assert line.startswith('memory_rethink(-> "yyy') and line.endswith('...")')
    assert len(line) < 110
    assert describe_call("memory_insert", {"label": "human", "content": "x", "line": 2}) == (
        'memory_insert("x", line=2)'
    )


def test_the_chat_history_command_prints_each_version() -> None:
    model = ScriptedChatModel(script=[tool_turn(append("Name: Ada")), reply("Hi Ada!")])
    saver = InMemorySaver()
    graph = build_graph(model, checkpointer=saver)
    out = io.StringIO()
    printer = Printer(out, color=False)
    session = ChatSession(graph, saver, None, CONTEXT, "cli-history", printer)  # type: ignore[arg-type]

    run_command(session, "/history human")  # no turn yet
    run_turn(graph, "I'm Ada", session.config, CONTEXT, printer)
    block = graph.get_state(session.config).values["blocks"]["human"]
    graph.update_state(
        session.config,
        {"blocks": {"human": {**block, "value": "Ada. Likes tea."}}},
        as_node="execute_tools",
    )
    start = len(out.getvalue())
    assert run_command(session, "/history human")
    shown = out.getvalue()[start:]
    run_command(session, "/history")
    run_command(session, "/history pets")

    assert "/history LABEL" in CHAT_HELP
    assert "no versions of block 'human' in thread 'cli-history' (blocks: none yet)" in (
        out.getvalue()
    )
    lines = shown.splitlines()
    assert lines[0] == "[human] 2 versions, oldest first"
    assert (
        lines[1].startswith("1. 20")
        and 'created, then core_memory_append("Name: Ada")' in (lines[1])
    )
    assert lines[1].endswith(f"{len(HUMAN) + 10}/5000 chars")
    assert lines[2:4] == [f"   {HUMAN}", "   Name: Ada"]
    assert lines[4].startswith("2. ") and OUTSIDE_EDIT in lines[4]
    assert lines[5] == "   Ada. Likes tea."
    assert "usage: /history LABEL" in out.getvalue()
    assert "no versions of block 'pets' in thread 'cli-history' (blocks: human, persona)" in (
        out.getvalue()
    )
