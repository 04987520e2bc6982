"""Archival memory's stores: where passages live (the operations on them are ``memory/``).

``store`` is the sqlite-vec ``BaseStore`` (with ``bit_index``, its binary first pass);
``vectorstore`` adapts any LangChain ``VectorStore`` (Chroma); ``capabilities`` declares what
a store can do beyond ``BaseStore`` (keyword search, counts, restored timestamps).
"""

import os
from pathlib import Path

from langgraph.store.base import IndexConfig
from langgraph_memgpt.archival.store import SqliteVecStore
from langgraph_memgpt.checkpoints.sqlite import default_checkpoint_path
from langgraph_memgpt.embeddings import load_embedding_model


def default_archive_path() -> Path:
    configured = os.environ.get("MEMGPT_ARCHIVE_DB")
    if configured:
        return Path(configured).expanduser()
    return default_checkpoint_path().parent / "archive.sqlite"


def open_archive(path: str | Path | None = None) -> SqliteVecStore:
    """The local archival store (``$MEMGPT_ARCHIVE_DB`` or next to the checkpoint file)."""
    return SqliteVecStore(path or default_archive_path(), index=default_index_config())


def default_index_config(model: str | None = None) -> IndexConfig:
    """Index config for archival passages: the configured embedding model over ``content``."""
    embedder = load_embedding_model(model)
    return {"dims": embedder.dimensions, "embed": embedder.embeddings, "fields": ["content"]}


__all__ = ["SqliteVecStore", "default_archive_path", "default_index_config", "open_archive"]
