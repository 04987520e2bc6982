"""Large channel values are stored once per version, and every checkpoint loads whole.

``checkpoints/channel_blobs.py``: the SQLite savers keep the core memory blocks, the summary
and the prompt's copy of core memory in a table of their own, once per version, instead of in
every checkpoint. Each test records what LangGraph asked the saver to put, runs a conversation
that edits core memory and evicts into a summary, and checks that every checkpoint loads to
exactly what was put, through ``get_tuple`` and ``list`` (what LangGraph, Studio and the block
history read), sync and async, across a reopened file and a file from before this layout.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.checkpoints import open_async_sqlite_checkpointer, open_sqlite_checkpointer
from langgraph_memgpt.checkpoints.channel_blobs import BLOB_CHANNELS_KEY
from langgraph_memgpt.checkpoints.history import QUEUE_CHANNEL
from langgraph_memgpt.checkpoints.serde import CompressingSerializer
from langgraph_memgpt.testing import ScriptedChatModel, call, tool_turn

WINDOW = 2600
CONFIG = {"configurable": {"thread_id": "t"}}
CTX = Context(context_window=WINDOW)


def answer(messages) -> AIMessage:
    if "running summary" in str(messages[0].content):
        return AIMessage(content="Summary: " + " ".join(str(m.content)[:20] for m in messages))
    # A memory-pressure note may follow the user's message.
    last = [m for m in messages if not str(m.content).startswith("[System note]")][-1]
    if last.type == "human" and "remember" in str(last.content):
        fact = str(last.content).split("remember ", 1)[1]
        edit = call("core_memory_append", label="human", content=fact, request_heartbeat=True)
        return tool_turn(edit)
    return tool_turn(call("send_message", message="noted " + "blah " * 25))


def user_text(turn: int) -> str:
    if turn % 6 == 2:
        return f"remember the user's fact number {turn}"
    return f"turn {turn}: " + "lorem ipsum " * 20


def record_puts(saver: Any, put: dict[str, dict[str, Any]], name: str = "put") -> None:
    """Keep the channel values of every checkpoint LangGraph gives ``saver``, as a save and
    load of them whole would give them back (tuples come back as lists)."""
    original = getattr(saver, name)
    serde = CompressingSerializer()

    def recording(config, checkpoint, metadata, new_versions):
        values = without_queue(checkpoint["channel_values"])
        put[checkpoint["id"]] = serde.loads_typed(serde.dumps_typed(values))
        return original(config, checkpoint, metadata, new_versions)

    setattr(saver, name, recording)


def without_queue(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != QUEUE_CHANNEL}


def raw_checkpoints(path: Path) -> list[dict[str, Any]]:
    serde = CompressingSerializer()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type, checkpoint FROM checkpoints").fetchall()
    return [serde.loads_typed((t, blob)) for t, blob in rows]


def blob_rows(path: Path, channel: str) -> int:
    with sqlite3.connect(path) as db:
        query = "SELECT count(*) FROM memgpt_channel_blobs WHERE channel = ?"
        return db.execute(query, (channel,)).fetchone()[0]


def assert_loads_what_was_put(saver: Any, put: dict[str, dict[str, Any]]) -> None:
    listed = {t.config["configurable"]["checkpoint_id"]: t for t in saver.list(CONFIG)}
    assert set(put) <= set(listed)
    for checkpoint_id, expected in put.items():
        at = {"configurable": {**CONFIG["configurable"], "checkpoint_id": checkpoint_id}}
        loaded = saver.get_tuple(at).checkpoint
        assert without_queue(loaded["channel_values"]) == expected, checkpoint_id
        assert without_queue(listed[checkpoint_id].checkpoint["channel_values"]) == expected
        assert BLOB_CHANNELS_KEY not in loaded


def test_blocks_and_summary_are_stored_once_per_version_and_load_whole(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    put: dict[str, dict[str, Any]] = {}
    with open_sqlite_checkpointer(path) as saver:
        record_puts(saver, put)
        agent = build_graph(ScriptedChatModel(default=answer), checkpointer=saver)
        for turn in range(40):
            agent.invoke({"messages": [("user", user_text(turn))]}, CONFIG, context=CTX)
        state = agent.get_state(CONFIG).values
        assert "fact number 38" in state["blocks"]["human"]["value"], "core memory was edited"
        assert state["summary"]["message_count"] > 0, "evictions happened"
        assert_loads_what_was_put(saver, put)

    # No checkpoint row holds the blocks: they are rows of their own, one per version.
    rows = raw_checkpoints(path)
    assert len(rows) == len(put) >= 40
    assert not any("blocks" in row["channel_values"] for row in rows)
    versions = {row["channel_versions"].get("blocks") for row in rows} - {None}
    assert blob_rows(path, "blocks") == len(versions) < len(rows) / 4

    # A new process on the same file (nothing known yet) goes on from where it was.
    with open_sqlite_checkpointer(path) as saver:
        record_puts(saver, put)
        agent = build_graph(ScriptedChatModel(default=answer), checkpointer=saver)
        for turn in range(40, 46):
            agent.invoke({"messages": [("user", user_text(turn))]}, CONFIG, context=CTX)
        assert "fact number 44" in agent.get_state(CONFIG).values["blocks"]["human"]["value"]
        assert_loads_what_was_put(saver, put)
        versions = {r["channel_versions"].get("blocks") for r in raw_checkpoints(path)} - {None}
        assert blob_rows(path, "blocks") == len(versions)

        saver.delete_thread("t")
        assert blob_rows(path, "blocks") == blob_rows(path, "summary") == 0


def test_the_async_saver_stores_and_loads_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    put: dict[str, dict[str, Any]] = {}

    async def converse() -> None:
        async with open_async_sqlite_checkpointer(path) as saver:
            record_puts(saver, put, "aput")
            agent = build_graph(ScriptedChatModel(default=answer), checkpointer=saver)
            for turn in range(30):
                await agent.ainvoke({"messages": [("user", user_text(turn))]}, CONFIG, context=CTX)
            state = (await agent.aget_state(CONFIG)).values
            assert "fact number 26" in state["blocks"]["human"]["value"]
            listed = [t async for t in saver.alist(CONFIG)]
            assert len(listed) == len(put)
            for found in listed:
                checkpoint_id = found.config["configurable"]["checkpoint_id"]
                expected = put[checkpoint_id]
                assert without_queue(found.checkpoint["channel_values"]) == expected
                loaded = await saver.aget_tuple(found.config)
                assert without_queue(loaded.checkpoint["channel_values"]) == expected
            await saver.adelete_thread("t")
            assert blob_rows(path, "blocks") == 0

    asyncio.run(converse())
    # The sync saver reads what the async one wrote (the CLI and the server share files).
    assert put and not any("blocks" in row["channel_values"] for row in raw_checkpoints(path))


def test_a_file_from_before_the_blobs_table_loads_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    put: dict[str, dict[str, Any]] = {}
    old = SqliteSaver(sqlite3.connect(path, check_same_thread=False), serde=CompressingSerializer())
    record_puts(old, put)
    agent = build_graph(ScriptedChatModel(default=answer), checkpointer=old)
    for turn in range(8):
        agent.invoke({"messages": [("user", user_text(turn))]}, CONFIG, context=CTX)
    old.conn.close()
    rows = [row for row in raw_checkpoints(path) if "blocks" in row["channel_versions"]]
    assert rows and all("blocks" in row["channel_values"] for row in rows)

    with open_sqlite_checkpointer(path) as saver:
        assert_loads_what_was_put(saver, put)
        record_puts(saver, put)
        agent = build_graph(ScriptedChatModel(default=answer), checkpointer=saver)
        for turn in range(8, 12):
            agent.invoke({"messages": [("user", user_text(turn))]}, CONFIG, context=CTX)
        assert_loads_what_was_put(saver, put)
        assert "fact number 8" in agent.get_state(CONFIG).values["blocks"]["human"]["value"]
