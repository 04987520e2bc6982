"""Checkpointers: where threads, and so recall memory, are kept."""

from langgraph_memgpt.checkpoints.sqlite import (
    default_checkpoint_path,
    open_async_sqlite_checkpointer,
    open_sqlite_checkpointer,
)

__all__ = ["default_checkpoint_path", "open_async_sqlite_checkpointer", "open_sqlite_checkpointer"]
