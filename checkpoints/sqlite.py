"""The default local checkpointer: LangGraph's SqliteSaver on a file, in WAL mode, compressed.

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
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import DeltaChannelHistory, get_checkpoint_id
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
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


class CheckedSqliteSaver(SqliteSaver):
    """LangGraph's SqliteSaver whose storage faults (read-only, disk full, corrupted) raise a
    StorageError naming the file and the fix, and which rebuilds the queue of a thread's next
    checkpoint from the last one it loaded (``queue_cache.py``). A subclass, so recall's SQL
    reader and the status (``checkpoints.history.saver_kind``) treat it as LangGraph's."""

    path: Path = Path("checkpoints.sqlite")

    def __init__(
        self, *args: Any, delta_reducers: Mapping[str, Reducer] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.queue_cache = QueueCache(
            agent_delta_reducers() if delta_reducers is None else delta_reducers
        )

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
        self.queue_cache.forget(str(thread_id))

    def get_tuple(self, *args: Any, **kwargs: Any) -> Any:
        with _clear_errors(self.path):
            return super().get_tuple(*args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> Any:
        with _clear_errors(self.path):
            return super().put(*args, **kwargs)

    def put_writes(self, *args: Any, **kwargs: Any) -> None:
        with _clear_errors(self.path):
            super().put_writes(*args, **kwargs)


class CheckedAsyncSqliteSaver(AsyncSqliteSaver):
    """LangGraph's AsyncSqliteSaver with the clear storage errors and the queue cache of
    :class:`CheckedSqliteSaver`."""

    path: Path = Path("checkpoints.sqlite")

    def __init__(
        self, *args: Any, delta_reducers: Mapping[str, Reducer] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.queue_cache = QueueCache(
            agent_delta_reducers() if delta_reducers is None else delta_reducers
        )

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
        self.queue_cache.forget(str(thread_id))

    async def aget_tuple(self, *args: Any, **kwargs: Any) -> Any:
        with _clear_errors(self.path):
            return await super().aget_tuple(*args, **kwargs)

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        with _clear_errors(self.path):
            return await super().aput(*args, **kwargs)

    async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
        with _clear_errors(self.path):
            await super().aput_writes(*args, **kwargs)


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
