"""The checkpoint serializer (``checkpoints/serde.py``): what it stores, it loads, whichever
version of it wrote the row, and a single queued message shrinks."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph_memgpt import build_graph
from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
from langgraph_memgpt.checkpoints.dictionary import (
    DICTIONARY_V2,
    DICTIONARY_V2_SHA256,
    MESSAGES_V1,
    MESSAGES_V1_SHA256,
)
from langgraph_memgpt.checkpoints.serde import CompressingSerializer
from langgraph_memgpt.testing import ScriptedChatModel, call, tool_turn

TIME = {"timestamp": "2026-12-03T18:11:34+00:00"}


def test_the_dictionaries_never_change() -> None:
    # Rows written with one can only be read with it: a new dictionary is a new version.
    assert hashlib.sha256(MESSAGES_V1).hexdigest() == MESSAGES_V1_SHA256
    assert hashlib.sha256(DICTIONARY_V2).hexdigest() == DICTIONARY_V2_SHA256


def test_every_version_of_a_row_loads() -> None:
    serde, plain = CompressingSerializer(), JsonPlusSerializer()
    said = HumanMessage(
        content="Thanks, Melanie! This necklace is a gift from my grandma in Sweden.",
        id="9f0c3a4e-5a43-4d4e-9a51-0e7c1b2f8d11",
        additional_kwargs=TIME,
    )
    checkpoint = {"blocks": {"human": "likes hiking " * 300}, "step": 12, "flag": True}
    for value in ([said], checkpoint, True, 3):
        assert serde.loads_typed(serde.dumps_typed(value)) == value
        type_, data = plain.dumps_typed(value)
        assert serde.loads_typed((type_, data)) == value  # stored uncompressed
        assert serde.loads_typed((type_ + "+zlib", zlib.compress(data))) == value  # plain zlib
        version_1 = zlib.compressobj(6, zdict=MESSAGES_V1)
        packed = version_1.compress(data) + version_1.flush()
        assert serde.loads_typed((type_ + "+zlibm1", packed)) == value


def test_one_queued_message_takes_about_half_its_bytes() -> None:
    answer = AIMessage(
        content="",
        id="lc_run--01a23d1a-c751-7205-bb17-fe1a5a0996bc-0",
        additional_kwargs=TIME,
        tool_calls=[
            {
                "name": "send_message",
                "args": {"message": "That's gorgeous, Caroline! What does it mean to you?"},
                "id": "call-00e83c33e8be",
                "type": "tool_call",
            }
        ],
    )
    raw = JsonPlusSerializer().dumps_typed([answer])[1]
    type_, stored = CompressingSerializer().dumps_typed([answer])
    assert type_.endswith("+zlibm2")
    assert len(stored) < 0.6 * len(raw) < len(zlib.compress(raw, 6)), (len(stored), len(raw))


def test_a_checkpoint_row_of_this_graph_shrinks_by_a_third_more(tmp_path: Path) -> None:
    # Dictionary version 2 holds this graph's channel names and version shapes: the checkpoint
    # row our saver writes every turn (large channel values are stored apart) is ~714 bytes
    # with version 1 and ~446 with version 2 on the LoCoMo replay.
    answer = tool_turn(call("send_message", message="That's great!"))
    config = {"configurable": {"thread_id": "t"}}
    with open_sqlite_checkpointer(tmp_path / "c.sqlite") as saver:
        agent = build_graph(ScriptedChatModel(default=lambda _: answer), checkpointer=saver)
        for text in ("Hi, I am Caroline.", "I went to a support group yesterday."):
            agent.invoke({"messages": [("user", text)]}, config)
        type_, stored = saver.conn.execute(
            "SELECT type, checkpoint FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1"
        ).fetchone()
    assert type_.endswith("+zlibm2")
    raw = zlib.decompressobj(zdict=DICTIONARY_V2).decompress(stored)
    version_1 = zlib.compressobj(6, zdict=MESSAGES_V1)
    before = len(version_1.compress(raw) + version_1.flush())
    assert len(stored) < 0.7 * before, (len(stored), before)
