"""The default local checkpointer: LangGraph's SqliteSaver on a file, in WAL mode, compressed,
with large channel values (core memory, the summary) stored once per version
(``channel_blobs.py``) rather than in every checkpoint.

The file is ``$MEMGPT_CHECKPOINT_DB`` or ``~/.local/share/langgraph-memgpt/checkpoints.sqlite``.

Opening checks the file first: one that is not an SQLite database, is truncated, read-only
or on a full disk gives a :class:`~langgraph_memgpt.storage.StorageError` naming the
file, the problem and the fix, instead of SQLite's one-line error at some later write.
Concurrent writers (other threads' connections, other processes) wait up to
``BUSY_TIMEOUT`` seconds for the write lock rather than failing with "database is locked".
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    get_checkpoint_id,
)
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph_memgpt._compat import is_exit_delta_write, run_executor_key
from langgraph_memgpt.checkpoints.channel_blobs import (
    CREATE_TABLE,
    DELETE_THREAD_BLOBS,
    INSERT_BLOB,
    SELECT_BLOB,
    BlobKey,
    ChannelBlobs,
    restore_each,
)
from langgraph_memgpt.checkpoints.queue_cache import QueueCache, Reducer, load_steps
from langgraph_memgpt.checkpoints.serde import CompressingSerializer
from langgraph_memgpt.steps import Call, NodeSteps, adrive, drive
from langgraph_memgpt.storage import StorageError, check_database_file, storage_error

# Checkpoint rows are 1-3 KB after compression: with SQLite's default 4 KB pages only one or
# two fit a page and a quarter of the file is slack. Takes effect when a file is created.
PAGE_SIZE = 16384
BUSY_TIMEOUT = 30
"""Seconds a write waits for another connection's write lock (aiosqlite's default is 5)."""
WHAT = "checkpoint file"
SETTING = "MEMGPT_CHECKPOINT_DB"
FIX = (
    "Fix: restore it from a backup (or re-import a `langgraph-memgpt export` file), or move it "
    f"aside to start with no threads ({SETTING} chooses the file)."
)


def default_checkpoint_path() -> Path:
    configured = os.environ.get("MEMGPT_CHECKPOINT_DB")
    if configured:
        return Path(configured).expanduser()
    data_home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return data_home / "langgraph-memgpt" / "checkpoints.sqlite"


def _prepare(path: str | Path | None) -> Path:
    target = Path(path).expanduser() if path else default_checkpoint_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _raise_clear(error, target)
        raise
    check_database_file(target, WHAT, FIX)
    return target


def _raise_clear(error: Exception, path: Path) -> None:
    """Raise a StorageError for a storage fault on the checkpoint file; else return."""
    if isinstance(error, StorageError):
        return
    clear = storage_error(error, path, WHAT, SETTING)
    if clear is not None:
        raise clear from error


@contextmanager
def _clear_errors(path: Path) -> Iterator[None]:
    """Storage faults of the checkpoint file inside the block surface as StorageError."""
    try:
        yield
    except Exception as error:
        _raise_clear(error, path)
        raise


def _check_writable(conn: sqlite3.Connection) -> None:
    """Write to the file now, in a transaction that is rolled back, so a read-only file or
    folder is reported when it is opened rather than at the end of the first turn.

    ``BEGIN IMMEDIATE`` alone succeeds on a read-only file; a real write does not."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE memgpt_write_probe (x)")
    finally:
        conn.execute("ROLLBACK")


def agent_delta_reducers() -> Mapping[str, Reducer]:
    """The DeltaChannels whose rebuilt value the savers keep (``queue_cache.py``): the agent's
    queue. A graph of your own with a DeltaChannel of that name and another reducer must pass
    its own ``delta_reducers``."""
    # Imported here: graph/ imports the archive, which imports this module for its path.
    from langgraph_memgpt.checkpoints.history import QUEUE_CHANNEL
    from langgraph_memgpt.graph.state import queue_reducer

    return {QUEUE_CHANNEL: queue_reducer}


def _at(config: RunnableConfig, checkpoint_id: str) -> RunnableConfig:
    return {**config, "configurable": {**config["configurable"], "checkpoint_id": checkpoint_id}}


def _split(channels: Sequence[str], cache: QueueCache) -> tuple[list[str], list[str]]:
    cached = [ch for ch in channels if ch in cache.reducers]
    return cached, [ch for ch in channels if ch not in cache.reducers]


def _cached_load(
    saver: Any,
    config: RunnableConfig,
    channels: list[str],
    query: Callable[[str, tuple], Call],
    walk_at: Callable[[str], Call],
) -> NodeSteps[Mapping[str, DeltaChannelHistory]]:
    """``queue_cache.load_steps`` for one of our savers (its reads passed in, sync or async)."""
    return load_steps(
        saver.queue_cache,
        thread_id=str(config["configurable"]["thread_id"]),
        checkpoint_ns=config["configurable"].get("checkpoint_ns", ""),
        target=get_checkpoint_id(config),
        channels=channels,
        query=query,
        walk=walk_at,
        loads=saver.serde.loads_typed,
    )


# LangGraph's writes table; the same statement as its savers' put_writes, which commits on its
# own, where held writes must go into the checkpoint's transaction (HeldWrites).
_INSERT_WRITE = (
    "INSERT OR {verb} INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, "
    "idx, channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_WriteRow = tuple[str, str, str, str, str, int, str, str, bytes]


class HeldWrites:
    """A sync run's queue writes stored at its exit, held until the checkpoint they lead to.

    With ``durability="exit"`` LangGraph ends a turn with one ``put_writes`` per task that
    wrote the queue (each on a worker thread, each its own transaction and commit), then puts
    the turn's checkpoint once they have all returned. The sync saver holds those writes and
    stores them in the checkpoint's transaction: one commit a turn instead of five, the
    largest cost of a turn after the nodes themselves (``tests/benchmarks/turn_overhead.py``),
    and no reader sees the writes before their checkpoint.

    Writes are held per run (``_compat.run_executor_key``), so two runs never mix theirs. A run
    that never put its checkpoint (its put failed, or it was stopped in between) leaves its
    writes here, never stored, as that checkpoint was not; they are dropped after
    ``STALE_AFTER`` seconds (a run's writes and its put are milliseconds apart). Which calls
    are exit writes is LangGraph's detail: ``_compat.is_exit_delta_write``. The async saver
    stores them as LangGraph does: its writes and puts run as tasks of one event loop, with
    nothing to tell one run's from another's.
    """

    STALE_AFTER = 600.0

    def __init__(self, dumps_typed: Callable[[Any], tuple[str, bytes]]) -> None:
        self._dumps_typed = dumps_typed
        # (thread, namespace, run) -> (checkpoint the writes are on, when first held, rows)
        self._held: dict[
            tuple[str, str, str], tuple[str, float, list[tuple[str, list[_WriteRow]]]]
        ] = {}
        self._steps: dict[tuple[str, str], tuple[str, int]] = {}
        """Per thread, the last checkpoint loaded or put and its step: a run's exit writes
        are stored on it, and their task ids carry the steps after it."""
        self._lock = threading.Lock()  # put_writes calls arrive on several worker threads

    def seen(self, config: RunnableConfig, metadata: Mapping[str, Any] | None) -> None:
        """A checkpoint was loaded or put (``config`` names it)."""
        step = (metadata or {}).get("step")
        if isinstance(step, int):
            conf = config["configurable"]
            key = (str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")))
            self._steps[key] = (str(conf["checkpoint_id"]), step)

    def hold(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, path: str
    ) -> bool:
        """Keep the writes if they are a run's exit writes (else False: store them now)."""
        run = run_executor_key()
        conf = config["configurable"]
        key = (str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")))
        anchor = str(conf["checkpoint_id"])
        known = self._steps.get(key)
        step = known[1] if known and known[0] == anchor else None
        if run is None or not is_exit_delta_write(task_id, step):
            return False
        verb = "REPLACE" if all(channel in WRITES_IDX_MAP for channel, _ in writes) else "IGNORE"
        rows: list[_WriteRow] = [
            (*key, anchor, task_id, path, WRITES_IDX_MAP.get(channel, idx), channel,
             *self._dumps_typed(value))
            for idx, (channel, value) in enumerate(writes)
        ]  # fmt: skip
        now = time.monotonic()
        with self._lock:
            held = self._held.get((*key, run))
            if held is None or held[0] != anchor:
                for stale in [k for k, v in self._held.items() if now - v[1] > self.STALE_AFTER]:
                    del self._held[stale]
                held = self._held[(*key, run)] = (anchor, now, [])
            held[2].append((verb, rows))
        return True

    def take(self, config: RunnableConfig) -> list[tuple[str, list[_WriteRow]]]:
        """The writes the calling run holds for the checkpoint ``put`` with ``config`` (on its
        parent, the checkpoint named in ``config``)."""
        run = run_executor_key()
        if run is None:
            return []
        conf = config["configurable"]
        key = (str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")), run)
        with self._lock:
            held = self._held.get(key)
            if held is None or held[0] != str(conf.get("checkpoint_id")):
                return []
            del self._held[key]
        return held[2]

    def forget(self, thread_id: str) -> None:
        with self._lock:
            for table in (self._held, self._steps):
                for key in [k for k in table if k[0] == thread_id]:
                    del table[key]  # type: ignore[attr-defined]


class CheckedSqliteSaver(SqliteSaver):
    """LangGraph's SqliteSaver whose storage faults (read-only, disk full, corrupted) raise a
    StorageError naming the file and the fix, which rebuilds the queue of a thread's next
    checkpoint from the last one it loaded (``queue_cache.py``), and which stores a large
    channel value once per version (``channel_blobs.py``). A subclass, so recall's SQL reader
    and the status (``checkpoints.history.saver_kind``) treat it as LangGraph's."""

    path: Path = Path("checkpoints.sqlite")

    def __init__(
        self, *args: Any, delta_reducers: Mapping[str, Reducer] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.queue_cache = QueueCache(
            agent_delta_reducers() if delta_reducers is None else delta_reducers
        )
        self.held_writes = HeldWrites(lambda value: self.serde.dumps_typed(value))
        self.channel_blobs = _channel_blobs(self)

    def setup(self) -> None:
        if self.is_setup:
            return
        super().setup()
        _create_blobs_table(lambda: self.conn.execute(CREATE_TABLE))

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        cached, others = _split(channels, self.queue_cache)
        if not cached:
            return super().get_delta_channel_history(config=config, channels=channels)
        walk = super().get_delta_channel_history

        def query(sql: str, params: tuple) -> Call:
            def run() -> list[tuple]:
                with self.cursor(transaction=False) as cur:
                    return cur.execute(sql, params).fetchall()

            return Call(run=run, arun=_sync_only)

        def walk_at(checkpoint_id: str) -> Call:
            return Call(
                run=lambda: walk(config=_at(config, checkpoint_id), channels=cached),
                arun=_sync_only,
            )

        with _clear_errors(self.path):
            history = drive(_cached_load(self, config, cached, query, walk_at))
            if others:
                history = {**history, **walk(config=config, channels=others)}
        return history

    def delete_thread(self, thread_id: str) -> None:
        super().delete_thread(thread_id)
        # After the checkpoints: a crash in between leaves unreferenced rows, never a
        # checkpoint without its values.
        with _clear_errors(self.path), self.cursor() as cur:
            cur.execute(DELETE_THREAD_BLOBS, (str(thread_id),))
        self.queue_cache.forget(str(thread_id))
        self.held_writes.forget(str(thread_id))
        self.channel_blobs.forget(str(thread_id))

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        with _clear_errors(self.path):
            loaded = super().get_tuple(config)
            if loaded is not None:
                with self.cursor(transaction=False) as cur:
                    restore_each(
                        self.channel_blobs,
                        loaded.config,
                        loaded.checkpoint,
                        lambda key: cur.execute(SELECT_BLOB, key).fetchone(),
                    )
        if loaded is not None:
            self.held_writes.seen(loaded.config, loaded.metadata)
        return loaded

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        rows: dict[BlobKey, Any] = {}  # consecutive checkpoints share their stored values

        def fetch(key: BlobKey) -> Any:
            if key not in rows:
                # The connection itself: LangGraph's list holds the saver's lock while it
                # yields, and it is not reentrant.
                rows[key] = self.conn.execute(SELECT_BLOB, key).fetchone()
            return rows[key]

        with _clear_errors(self.path):
            for found in super().list(config, filter=filter, before=before, limit=limit):
                restore_each(self.channel_blobs, found.config, found.checkpoint, fetch)
                yield found

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        held = self.held_writes.take(config)
        stored, blob_rows, blob_keys = self.channel_blobs.split(config, checkpoint)
        with _clear_errors(self.path):
            if held or blob_rows:
                # Not committed here: put's commit stores them with the checkpoint (or, should
                # it fail, the connection's next commit does, as LangGraph's own order would).
                with self.cursor(transaction=False) as cur:
                    for verb, rows in held:
                        cur.executemany(_INSERT_WRITE.format(verb=verb), rows)
                    cur.executemany(INSERT_BLOB, blob_rows)
            saved = super().put(config, stored, metadata, new_versions)
        self.channel_blobs.committed(blob_keys)
        self.held_writes.seen(saved, metadata)
        return saved

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if self.held_writes.hold(config, writes, task_id, task_path):
            return
        with _clear_errors(self.path):
            super().put_writes(config, writes, task_id, task_path)


class CheckedAsyncSqliteSaver(AsyncSqliteSaver):
    """LangGraph's AsyncSqliteSaver with the clear storage errors, the queue cache and the
    channel values stored once per version of :class:`CheckedSqliteSaver`."""

    path: Path = Path("checkpoints.sqlite")

    def __init__(
        self, *args: Any, delta_reducers: Mapping[str, Reducer] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.queue_cache = QueueCache(
            agent_delta_reducers() if delta_reducers is None else delta_reducers
        )
        self.channel_blobs = _channel_blobs(self)

    async def setup(self) -> None:
        if self.is_setup:
            return
        await super().setup()
        async with self.lock:
            try:
                await self.conn.execute(CREATE_TABLE)
                await self.conn.commit()
            except sqlite3.OperationalError as error:
                _readonly_is_fine(error)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        cached, others = _split(channels, self.queue_cache)
        walk = super().aget_delta_channel_history
        if not cached:
            return await walk(config=config, channels=channels)
        await self.setup()

        def query(sql: str, params: tuple) -> Call:
            async def arun() -> list[Any]:
                async with self.lock, self.conn.execute(sql, params) as cur:
                    return list(await cur.fetchall())

            return Call(run=_async_only, arun=arun)

        def walk_at(checkpoint_id: str) -> Call:
            return Call(
                run=_async_only,
                arun=lambda: walk(config=_at(config, checkpoint_id), channels=cached),
            )

        with _clear_errors(self.path):
            history = await adrive(_cached_load(self, config, cached, query, walk_at))
            if others:
                history = {**history, **await walk(config=config, channels=others)}
        return history

    async def adelete_thread(self, thread_id: str) -> None:
        await super().adelete_thread(thread_id)
        with _clear_errors(self.path):  # after the checkpoints, as in the sync saver
            async with self.lock:
                await self.conn.execute(DELETE_THREAD_BLOBS, (str(thread_id),))
                await self.conn.commit()
        self.queue_cache.forget(str(thread_id))
        self.channel_blobs.forget(str(thread_id))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        with _clear_errors(self.path):
            loaded = await super().aget_tuple(config)
            if loaded is not None:
                async with self.lock:
                    await self._arestore(loaded, {})
        return loaded

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        rows: dict[BlobKey, Any] = {}  # consecutive checkpoints share their stored values
        with _clear_errors(self.path):
            # No lock of ours: LangGraph's alist holds it while it yields.
            async for found in super().alist(config, filter=filter, before=before, limit=limit):
                await self._arestore(found, rows)
                yield found

    async def _arestore(self, loaded: CheckpointTuple, rows: dict[BlobKey, Any]) -> None:
        """Put the stored values back into ``loaded`` (``rows`` caches the rows read)."""
        for key in self.channel_blobs.wanted(loaded.config, loaded.checkpoint):
            if key not in rows:
                async with self.conn.execute(SELECT_BLOB, key) as cur:
                    rows[key] = await cur.fetchone()
        restore_each(self.channel_blobs, loaded.config, loaded.checkpoint, rows.__getitem__)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stored, blob_rows, blob_keys = self.channel_blobs.split(config, checkpoint)
        with _clear_errors(self.path):
            if blob_rows:
                await self.setup()
                async with self.lock:  # committed by aput, with the checkpoint
                    await self.conn.executemany(INSERT_BLOB, blob_rows)
            saved = await super().aput(config, stored, metadata, new_versions)
        self.channel_blobs.committed(blob_keys)
        return saved

    async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
        with _clear_errors(self.path):
            await super().aput_writes(*args, **kwargs)


def _channel_blobs(saver: Any) -> ChannelBlobs:
    """The saver's :class:`ChannelBlobs`, reading its serde at each call (the async saver's
    is set after construction)."""
    return ChannelBlobs(
        lambda value: saver.serde.dumps_typed(value),
        lambda typed: saver.serde.loads_typed(typed),
    )


def _create_blobs_table(create: Callable[[], Any]) -> None:
    try:
        create()
    except sqlite3.OperationalError as error:
        _readonly_is_fine(error)


def _readonly_is_fine(error: sqlite3.OperationalError) -> None:
    """A read-only file from before the blobs table is read as it is (it has no stored
    values to find); LangGraph's own setup treats its migration the same way."""
    if "readonly database" not in str(error):
        raise error


def _sync_only() -> Any:
    raise RuntimeError("the sync saver's queue cache was driven on the async path")


async def _async_only() -> Any:
    raise RuntimeError("the async saver's queue cache was driven on the sync path")


@contextmanager
def open_sqlite_checkpointer(path: str | Path | None = None) -> Iterator[CheckedSqliteSaver]:
    """A SqliteSaver on ``path`` (default: :func:`default_checkpoint_path`)."""
    target = _prepare(path)
    conn = sqlite3.connect(target, check_same_thread=False, timeout=BUSY_TIMEOUT)
    try:
        with _clear_errors(target):
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            saver = CheckedSqliteSaver(conn, serde=CompressingSerializer())
            saver.path = target
            saver.setup()
            conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone()  # reads the table
            _check_writable(conn)
        yield saver
    finally:
        conn.close()


@asynccontextmanager
async def open_async_sqlite_checkpointer(
    path: str | Path | None = None,
) -> AsyncIterator[CheckedAsyncSqliteSaver]:
    """An AsyncSqliteSaver on ``path`` (default: :func:`default_checkpoint_path`)."""
    # The folder and header checks touch the file system: off the event loop (langgraph
    # dev's blocking-call detector rejects such calls on it).
    target = await asyncio.to_thread(_prepare, path)
    async with CheckedAsyncSqliteSaver.from_conn_string(str(target)) as saver:
        with _clear_errors(target):
            saver.serde = CompressingSerializer()
            saver.path = target
            await saver.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT * 1000}")
            await saver.conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            await saver.conn.execute("PRAGMA journal_mode=WAL")
            await saver.setup()
            await saver.conn.execute("SELECT 1 FROM checkpoints LIMIT 1")
            await saver.conn.execute("BEGIN IMMEDIATE")
            try:
                await saver.conn.execute("CREATE TABLE memgpt_write_probe (x)")
            finally:
                await saver.conn.execute("ROLLBACK")
        yield saver
