"""Large channel values stored once per version, beside the checkpoints that name them.

LangGraph's SqliteSaver writes every channel's value into every checkpoint. The agent's core
memory blocks, its summary and the prompt's copy of core memory are kilobytes each and change
a few turns in a hundred, yet every turn's checkpoint stored them again: at 10,000 turns of
LoCoMo text they were most of the checkpoint file (``tests/benchmarks/turn_overhead.py``,
its ``storage by part`` line).

LangGraph's PostgresSaver keeps each channel value once per version in a blobs table. Our
SQLite savers do the same for a value of ``BLOB_MIN_BYTES`` or more, serialized: such a value
is written to ``memgpt_channel_blobs`` once, at the version it first appears with, and a
checkpoint names those channels under ``BLOB_CHANNELS_KEY`` instead of holding them. A value
is found again by its thread, namespace, channel and version, which LangGraph changes whenever
the value changes (and a SQLite saver's versions carry a random part, so two writers never
make the same one). Small values, which change every turn, stay in the checkpoint, where they
share its compression; so do a DeltaChannel's snapshots (the queue's), which LangGraph's
savers look for in the checkpoint rows themselves.

Loading puts the values back, so every reader of a :class:`CheckpointTuple` (LangGraph,
Studio, the block history, export) sees a whole checkpoint; a file written before this module
has no such key and loads as it is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import Checkpoint
from langgraph_memgpt._compat import is_delta_snapshot

BLOB_MIN_BYTES = 256
"""Serialized size from which a value is stored apart (the agent's per-turn token budget,
about 160 bytes, stays in the checkpoint; blocks and summary are far above)."""
BLOB_CHANNELS_KEY = "memgpt_blob_channels"
"""The checkpoint's list of channels whose values are in the blobs table (removed on load)."""
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS memgpt_channel_blobs (thread_id TEXT NOT NULL, "
    "checkpoint_ns TEXT NOT NULL, channel TEXT NOT NULL, version TEXT NOT NULL, type TEXT, "
    "blob BLOB, PRIMARY KEY (thread_id, checkpoint_ns, channel, version)) WITHOUT ROWID"
)
INSERT_BLOB = "INSERT OR IGNORE INTO memgpt_channel_blobs VALUES (?, ?, ?, ?, ?, ?)"
SELECT_BLOB = (
    "SELECT type, blob FROM memgpt_channel_blobs "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?"
)
DELETE_THREAD_BLOBS = "DELETE FROM memgpt_channel_blobs WHERE thread_id = ?"

BlobKey = tuple[str, str, str, str]
"""(thread_id, checkpoint_ns, channel, version): a row of the blobs table."""
BlobRow = tuple[str, str, str, str, str, bytes]


class MissingChannelBlob(LookupError):
    """A checkpoint names a stored value the file does not have (it was edited or cut)."""


class ChannelBlobs:
    """Splits a checkpoint into its row and its new blob rows, and puts loaded values back.

    It remembers, per thread and channel, the last version known to be in the table
    (committed by this saver, or loaded from it), so a value that has not changed since is
    neither serialized nor written again.
    """

    def __init__(
        self,
        dumps_typed: Callable[[Any], tuple[str, bytes]],
        loads_typed: Callable[[tuple[str, bytes]], Any],
    ) -> None:
        self._dumps_typed = dumps_typed
        self._loads_typed = loads_typed
        self._stored: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()  # sync savers put and load from several threads

    def split(
        self, config: RunnableConfig, checkpoint: Checkpoint
    ) -> tuple[Checkpoint, list[BlobRow], list[BlobKey]]:
        """The checkpoint to store, the blob rows to insert in the same transaction, and the
        keys to pass to :meth:`committed` once that transaction is committed."""
        conf = config["configurable"]
        thread, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        versions = checkpoint["channel_versions"]
        kept: dict[str, Any] = {}
        apart: list[str] = []
        rows: list[BlobRow] = []
        for channel, value in checkpoint["channel_values"].items():
            version = versions.get(channel)
            if version is None or is_delta_snapshot(value):
                kept[channel] = value
                continue
            version = str(version)
            with self._lock:
                known = self._stored.get((thread, ns, channel)) == version
            if not known:
                type_, blob = self._dumps_typed(value)
                if len(blob) < BLOB_MIN_BYTES:
                    kept[channel] = value
                    continue
                rows.append((thread, ns, channel, version, type_, blob))
            apart.append(channel)
        if not apart:
            return checkpoint, [], []
        stored: Checkpoint = {**checkpoint, "channel_values": kept}  # type: ignore[typeddict-item]
        stored[BLOB_CHANNELS_KEY] = apart  # type: ignore[typeddict-unknown-key]
        return stored, rows, [row[:4] for row in rows]

    def committed(self, keys: Sequence[BlobKey]) -> None:
        with self._lock:
            for thread, ns, channel, version in keys:
                self._stored[(thread, ns, channel)] = version

    def wanted(self, config: RunnableConfig, checkpoint: Checkpoint) -> list[BlobKey]:
        """The blob rows a loaded checkpoint needs (none for one that holds all its values)."""
        channels = checkpoint.get(BLOB_CHANNELS_KEY) or ()  # type: ignore[misc]
        conf = config["configurable"]
        thread, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        versions = checkpoint["channel_versions"]
        return [(thread, ns, channel, str(versions[channel])) for channel in channels]

    def restore(
        self, checkpoint: Checkpoint, found: Mapping[BlobKey, tuple[str, bytes] | None]
    ) -> None:
        """Put the values of ``found`` (the rows :meth:`wanted` named) back into the loaded
        ``checkpoint``, in place."""
        checkpoint.pop(BLOB_CHANNELS_KEY, None)  # type: ignore[misc]
        values = checkpoint["channel_values"]
        for key, row in found.items():
            thread, _, channel, version = key
            if row is None:
                raise MissingChannelBlob(
                    f"checkpoint {checkpoint['id']} of thread {thread!r} keeps channel "
                    f"{channel!r} (version {version}) in the memgpt_channel_blobs table, and "
                    "the file has no such row: it was edited or cut short. Restore it from a "
                    "backup, or re-import a `langgraph-memgpt export` file."
                )
            values[channel] = self._loads_typed(row)
        self.committed(list(found))

    def forget(self, thread_id: str) -> None:
        with self._lock:
            for key in [k for k in self._stored if k[0] == thread_id]:
                del self._stored[key]


def restore_each(
    blobs: ChannelBlobs,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    fetch: Callable[[BlobKey], tuple[str, bytes] | None],
) -> None:
    """:meth:`ChannelBlobs.restore` with rows read by ``fetch`` (sync savers)."""
    wanted = blobs.wanted(config, checkpoint)
    if wanted or BLOB_CHANNELS_KEY in checkpoint:
        blobs.restore(checkpoint, {key: fetch(key) for key in wanted})
