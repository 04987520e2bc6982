"""A checkpoint serializer that compresses what it stores.

LangGraph's SQLite saver stores checkpoints and writes as msgpack. Those repeat the same keys
and message fields over and over, and the queue's periodic full snapshot is tens of kilobytes,
so zlib shrinks what is stored several times over (level 6: 9% fewer bytes on disk than
level 1, for microseconds per checkpoint). Compression starts from a preset dictionary of
message fields and checkpoint keys (``dictionary.py``), so a single message written to the
queue shrinks too (about half), where plain zlib barely touched it.

The type tag gets a suffix naming how the blob was compressed (``+zlibm2``: the dictionary's
version 2; ``+zlibm1`` its version 1 and ``+zlib`` plain zlib, as earlier versions wrote), so
reading is transparent and rows of every earlier version still load.
"""

from __future__ import annotations

import zlib
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph_memgpt.checkpoints.dictionary import DICTIONARY_V2, MESSAGES_V1

SUFFIX = "+zlibm2"
"""zlib started from :data:`~langgraph_memgpt.checkpoints.dictionary.DICTIONARY_V2`."""
V1_SUFFIX = "+zlibm1"
"""zlib started from :data:`~langgraph_memgpt.checkpoints.dictionary.MESSAGES_V1` (read only)."""
DICTIONARIES = {SUFFIX: DICTIONARY_V2, V1_SUFFIX: MESSAGES_V1}
"""Every dictionary a stored row may name, by its suffix."""
PLAIN_SUFFIX = "+zlib"
"""Plain zlib: what versions before the dictionary wrote (read only)."""
MIN_SIZE = 64
"""Smaller blobs (a flag, a step counter) are stored as they are."""
LEVEL = 6


class CompressingSerializer(SerializerProtocol):
    def __init__(self, inner: SerializerProtocol | None = None, min_size: int = MIN_SIZE) -> None:
        self.inner = inner or JsonPlusSerializer()
        self.min_size = min_size

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        type_, data = self.inner.dumps_typed(obj)
        if len(data) < self.min_size:
            return type_, data
        compressor = zlib.compressobj(LEVEL, zdict=DICTIONARY_V2)
        packed = compressor.compress(data) + compressor.flush()
        if len(packed) >= len(data):
            return type_, data
        return type_ + SUFFIX, packed

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        type_, blob = data
        for suffix, dictionary in DICTIONARIES.items():
            if type_.endswith(suffix):
                unpacker = zlib.decompressobj(zdict=dictionary)
                raw = unpacker.decompress(blob) + unpacker.flush()
                return self.inner.loads_typed((type_[: -len(suffix)], raw))
        if type_.endswith(PLAIN_SUFFIX):
            return self.inner.loads_typed((type_[: -len(PLAIN_SUFFIX)], zlib.decompress(blob)))
        return self.inner.loads_typed((type_, blob))
