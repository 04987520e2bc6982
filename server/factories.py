"""The checkpointer and store that langgraph.json gives ``langgraph dev``: memory on local files.

langgraph.json points ``checkpointer.path`` at :func:`sqlite_checkpointer` and ``store.path``
at :func:`sqlite_archive`. The LangGraph server enters each as an async context manager
(once per event-loop thread it serves from) and leaves it at shutdown, so a restart of
``langgraph dev`` finds the same threads (recall memory) and archival passages:

- checkpoints: ``$MEMGPT_CHECKPOINT_DB`` (default
  ``~/.local/share/langgraph-memgpt/checkpoints.sqlite``), the file the terminal chat uses;
- archive: ``$MEMGPT_ARCHIVE_DB`` (default ``archive.sqlite`` next to the checkpoints).

The server only calls the async saver API (``aget_tuple``, ``aput``, ``aput_writes``,
``alist``, ``adelete_thread``), so the checkpointer is the aiosqlite-based
``AsyncSqliteSaver``. On LangGraph Platform drop both paths from langgraph.json: the
platform's PostgreSQL checkpointer and store take their place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph_memgpt.archival import SqliteVecStore, default_archive_path, open_archive
from langgraph_memgpt.checkpoints.sqlite import (
    default_checkpoint_path,
    open_async_sqlite_checkpointer,
)


@asynccontextmanager
async def sqlite_checkpointer() -> AsyncIterator[AsyncSqliteSaver]:
    """The package's SQLite checkpointer on ``$MEMGPT_CHECKPOINT_DB``, for the LangGraph server.

    Example (what the server does with langgraph.json's ``checkpointer.path``):
        ```python
        from langgraph_memgpt.server.factories import sqlite_checkpointer

        async with sqlite_checkpointer() as saver:
            await saver.aget_tuple({"configurable": {"thread_id": "t1", "checkpoint_ns": ""}})
        ```
    """
    # Resolving the path creates its folder: file system calls stay off the event loop,
    # where langgraph dev's blocking-call detector would reject them.
    path = await asyncio.to_thread(default_checkpoint_path)
    async with open_async_sqlite_checkpointer(path) as saver:
        yield saver


@asynccontextmanager
async def sqlite_archive() -> AsyncIterator[SqliteVecStore]:
    """The sqlite-vec archival store on ``$MEMGPT_ARCHIVE_DB``, for the LangGraph server.

    Example (what the server does with langgraph.json's ``store.path``):
        ```python
        from langgraph_memgpt.server.factories import sqlite_archive

        async with sqlite_archive() as store:
            await store.asearch(("archival", "ada"), query="tea")
        ```
    """
    # Loading the embedding model and opening SQLite block for seconds: do it in a worker
    # thread so the server's event loop keeps serving (and its blocking detector stays quiet).
    store = await asyncio.to_thread(open_archive, default_archive_path())
    try:
        yield store
    finally:
        await asyncio.to_thread(store.close)


__all__ = ["sqlite_archive", "sqlite_checkpointer"]
