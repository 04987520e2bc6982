"""What an archive can do beyond ``BaseStore``, declared as protocols instead of probed.

Archival memory runs on any LangGraph ``BaseStore`` (ours, LangGraph Platform's PostgreSQL
store, ``InMemoryStore``). Some stores can do more, and the memory operations use it when they
can:

- :class:`KeywordSearchable`: a keyword ranking of their own (BM25), fused with the semantic one
  (``SqliteVecStore``; ``VectorStoreArchive`` over a store that can filter by text). Others get
  a ranking of the semantic candidates by the query's words.
- :class:`Countable`: a passage count without reading the passages (the prompt's memory
  metadata and ``status``). Others are counted by paging, or shown as unknown.
- :class:`TimestampRestorable`: items given back their original store timestamps (an import).
  Others keep the time of the import (the value's ``created_at`` still holds the original).

The protocols are ``runtime_checkable``, so a store declares a capability by having the method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class KeywordSearchable(Protocol):
    def keyword_search(
        self, namespace: Sequence[str], query: str, limit: int = 50
    ) -> list[tuple[str, float]]:
        """(key, score) of the items in ``namespace`` matching ``query``, best first."""
        ...


@runtime_checkable
class Countable(Protocol):
    def count(self, namespace: Sequence[str]) -> int:
        """Items stored under ``namespace``."""
        ...


@runtime_checkable
class TimestampRestorable(Protocol):
    def restore_timestamps(
        self, namespace: Sequence[str], times: Sequence[tuple[str, str, str]]
    ) -> None:
        """Set ``(key, created_at, updated_at)`` (ISO 8601) on items already stored."""
        ...
