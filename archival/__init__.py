"""Archival memory: the agent's unbounded long-term store, searched by meaning and keywords."""

from langgraph.store.base import IndexConfig
from langgraph_memgpt.archival.store import SqliteVecStore
from langgraph_memgpt.embeddings import load_embedding_model


def default_index_config(model: str | None = None) -> IndexConfig:
    """Index config for archival passages: the configured embedding model over ``content``."""
    embedder = load_embedding_model(model)
    return {"dims": embedder.dimensions, "embed": embedder.embeddings, "fields": ["content"]}


__all__ = ["SqliteVecStore", "default_index_config"]
