"""Checkpointers: where threads, and so recall memory, are kept.

``sqlite`` opens the default local saver (checked file, WAL, compressed by ``serde``, large
channel values kept once per version by ``channel_blobs``);
``history`` reads every message a thread ever had back from any saver's checkpoints (SQL on
SQLite and PostgreSQL, ``list()`` on others) and dispatches on the saver's type.
"""

from langgraph_memgpt.checkpoints.sqlite import (
    default_checkpoint_path,
    open_async_sqlite_checkpointer,
    open_sqlite_checkpointer,
)

__all__ = ["default_checkpoint_path", "open_async_sqlite_checkpointer", "open_sqlite_checkpointer"]
