"""The savers' queue cache gives the queue LangGraph's own walk gives, at every checkpoint.

``checkpoints/queue_cache.py`` rebuilds a thread's queue from the last one its saver loaded
instead of walking back to the last snapshot. Each test runs a conversation that evicts into
a summary (RemoveMessage writes, snapshots every SNAPSHOT_EVERY updates) on a saver with the
cache, and reads every checkpoint again through a saver on the same file without it
(``delta_reducers={}``: LangGraph's walk, untouched). Forks, a second writer on the same
file, several checkpoints per turn and the async saver are the cases where the cached
checkpoint is not the parent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from langchain_core.messages import AIMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.checkpoints import open_async_sqlite_checkpointer, open_sqlite_checkpointer
from langgraph_memgpt.checkpoints.serde import CompressingSerializer
from langgraph_memgpt.testing import ScriptedChatModel, call, tool_turn

WINDOW = 2600
CONFIG = {"configurable": {"thread_id": "t"}}


def answer(messages) -> AIMessage:
    if "running summary" in str(messages[0].content):
        return AIMessage(content="Summary: " + " ".join(str(m.content)[:20] for m in messages))
    return tool_turn(call("send_message", message="noted " + "blah " * 25))


def uncached(path: Path) -> SqliteSaver:
    """LangGraph's walk on the same file: our saver class, its cache given no channel."""
    import sqlite3

    from langgraph_memgpt.checkpoints.sqlite import CheckedSqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    return CheckedSqliteSaver(conn, serde=CompressingSerializer(), delta_reducers={})


def queues_by_checkpoint(graph, config) -> dict[str, list]:
    return {
        snapshot.config["configurable"]["checkpoint_id"]: snapshot.values.get("messages", [])
        for snapshot in graph.get_state_history(config)
    }


def assert_same_queues(cached_graph, reference_graph, config=CONFIG) -> int:
    """Every checkpoint of the thread loads to the same queue with and without the cache."""
    reference = queues_by_checkpoint(reference_graph, config)
    for checkpoint_id, expected in reference.items():
        at = {"configurable": {**config["configurable"], "checkpoint_id": checkpoint_id}}
        got = cached_graph.get_state(at).values.get("messages", [])
        assert [m.model_dump() for m in got] == [m.model_dump() for m in expected], checkpoint_id
    return len(reference)


def test_every_checkpoint_loads_the_queue_langgraphs_walk_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ctx = Context(context_window=WINDOW)
    with open_sqlite_checkpointer(path) as saver:
        agent = build_graph(ScriptedChatModel(default=answer), checkpointer=saver)
        reference = build_graph(ScriptedChatModel(default=answer), checkpointer=uncached(path))
        for turn in range(60):
            # Mostly one checkpoint per turn (the chat's durability), some turns step by step.
            durability = "async" if turn % 7 == 3 else "exit"
            agent.invoke(
                {"messages": [("user", f"turn {turn}: " + "lorem ipsum " * 20)]},
                CONFIG,
                context=ctx,
                durability=durability,
            )
            now = agent.get_state(CONFIG).values["messages"]
            expected = reference.get_state(CONFIG).values["messages"]
            assert [m.model_dump() for m in now] == [m.model_dump() for m in expected], turn
        state = agent.get_state(CONFIG).values
        assert state["summary"] and state["summary"]["message_count"] > 0, "evictions happened"

        # A fork: a run from a checkpoint ten turns back, then the newest again.
        history = list(agent.get_state_history(CONFIG))
        old = history[len(history) // 3].config
        agent.invoke({"messages": [("user", "a different ending")]}, old, context=ctx)
        # A second writer on the same file (another process's connection) adds turns.
        with open_sqlite_checkpointer(path) as other:
            writer = build_graph(ScriptedChatModel(default=answer), checkpointer=other)
            for turn in range(3):
                writer.invoke({"messages": [("user", f"elsewhere {turn}")]}, CONFIG, context=ctx)
        agent.invoke({"messages": [("user", "back here")]}, CONFIG, context=ctx)
        assert assert_same_queues(agent, reference) > 60


def test_the_async_saver_loads_the_same_queues(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    ctx = Context(context_window=WINDOW)

    async def converse() -> None:
        async with open_async_sqlite_checkpointer(path) as saver:
            agent = build_graph(ScriptedChatModel(default=answer), checkpointer=saver)
            reference = build_graph(ScriptedChatModel(default=answer), checkpointer=uncached(path))
            for turn in range(40):
                await agent.ainvoke(
                    {"messages": [("user", f"turn {turn}: " + "lorem ipsum " * 20)]},
                    CONFIG,
                    context=ctx,
                    durability="exit",
                )
                now = (await agent.aget_state(CONFIG)).values["messages"]
                expected = reference.get_state(CONFIG).values["messages"]
                assert [m.model_dump() for m in now] == [m.model_dump() for m in expected], turn
            assert saver.queue_cache.get(("t", "")) is not None, "the cache was used"
            assert (await agent.aget_state(CONFIG)).values["summary"], "evictions happened"

    asyncio.run(converse())


def test_a_turns_exit_writes_are_stored_with_its_checkpoint(tmp_path: Path) -> None:
    """``durability="exit"``: the sync saver stores a turn's queue writes in the transaction
    of the checkpoint they lead to (``HeldWrites``), one commit a turn, and the queue read
    back is the one the turn made."""
    with open_sqlite_checkpointer(tmp_path / "c.sqlite") as saver:
        agent = build_graph(ScriptedChatModel(default=answer), checkpointer=saver)
        # A thread's first turn also stores an empty checkpoint for its writes to hang on.
        agent.invoke({"messages": [("user", "turn 0")]}, CONFIG, durability="exit")
        statements: list[str] = []
        saver.conn.set_trace_callback(statements.append)
        for turn in range(1, 4):
            statements.clear()
            state = agent.invoke(
                {"messages": [("user", f"turn {turn}")]}, CONFIG, durability="exit"
            )
            written = [s.split()[0] for s in statements if s.split()[0] in ("INSERT", "COMMIT")]
            # the user message, the answer and its tool result, then the checkpoint; one commit
            assert written.count("INSERT") >= 4 and written[-1] == "COMMIT", written
            assert written.count("COMMIT") == 1, written
        saver.conn.set_trace_callback(None)
        stored = uncached(tmp_path / "c.sqlite")
        reread = build_graph(ScriptedChatModel(), checkpointer=stored).get_state(CONFIG)
        assert [m.id for m in reread.values["messages"]] == [m.id for m in state["messages"]]
        assert not saver.held_writes._held, "nothing left held"
