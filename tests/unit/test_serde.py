"""The checkpoint serializer (``checkpoints/serde.py``): what it stores, it loads, whichever
version of it wrote the row, and a single queued message shrinks."""

from __future__ import annotations

import hashlib
import zlib

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph_memgpt.checkpoints.dictionary import MESSAGES_V1, MESSAGES_V1_SHA256
from langgraph_memgpt.checkpoints.serde import CompressingSerializer

TIME = {"timestamp": "2026-12-03T18:11:34+00:00"}


def test_the_dictionary_never_changes() -> None:
    # Rows written with it can only be read with it: a new dictionary is a new version.
    assert hashlib.sha256(MESSAGES_V1).hexdigest() == MESSAGES_V1_SHA256


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
    assert type_.endswith("+zlibm1")
    assert len(stored) < 0.6 * len(raw) < len(zlib.compress(raw, 6)), (len(stored), len(raw))
