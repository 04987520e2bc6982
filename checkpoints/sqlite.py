"""The default local checkpointer: LangGraph's SqliteSaver on a file, in WAL mode, compressed.

The file is ``$MEMGPT_CHECKPOINT_DB`` or ``~/.local/share/langgraph-memgpt/checkpoints.sqlite``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph_memgpt.checkpoints.serde import CompressingSerializer

# Checkpoint rows are 1-3 KB after compression: with SQLite's default 4 KB pages only one or
# two fit a page and a quarter of the file is slack. Takes effect when a file is created.
PAGE_SIZE = 16384


def default_checkpoint_path() -> Path:
    configured = os.environ.get("MEMGPT_CHECKPOINT_DB")
    if configured:
        return Path(configured).expanduser()
    data_home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return data_home / "langgraph-memgpt" / "checkpoints.sqlite"


def _prepare(path: str | Path | None) -> Path:
    target = Path(path).expanduser() if path else default_checkpoint_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


@contextmanager
def open_sqlite_checkpointer(path: str | Path | None = None) -> Iterator[SqliteSaver]:
    """A SqliteSaver on ``path`` (default: :func:`default_checkpoint_path`)."""
    conn = sqlite3.connect(_prepare(path), check_same_thread=False, timeout=30)
    try:
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        saver = SqliteSaver(conn, serde=CompressingSerializer())
        saver.setup()
        yield saver
    finally:
        conn.close()


@asynccontextmanager
async def open_async_sqlite_checkpointer(
    path: str | Path | None = None,
) -> AsyncIterator[AsyncSqliteSaver]:
    """An AsyncSqliteSaver on ``path`` (default: :func:`default_checkpoint_path`)."""
    async with AsyncSqliteSaver.from_conn_string(str(_prepare(path))) as saver:
        saver.serde = CompressingSerializer()
        await saver.conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        await saver.setup()
        yield saver
