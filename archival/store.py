"""SqliteVecStore: a LangGraph ``BaseStore`` on SQLite + sqlite-vec, built for fast search.

Layout (one file, WAL mode):

- ``items``: one row per (namespace, key) with the JSON value and timestamps (and TTL);
- ``vectors``: one full-precision (float32) vector per indexed field of an item;
- ``vec_index``: a sqlite-vec ``vec0`` table of binary-quantized copies of those vectors,
  partitioned by namespace, so a search only scans one user's archive;
- ``vec_text``: an FTS5 table over the same indexed texts, for keyword (BM25) search.

A semantic search takes the nearest candidates by Hamming distance on the binary vectors
(cheap: 384 bits a vector), then re-scores them with the float vectors (exact cosine), so the
ranking is the exact ranking of the candidates. By default the Hamming pass runs over an
in-memory copy of the bits (``bit_index.py`` says why and what it costs); with
``memory_index=False`` it runs inside SQLite on ``vec_index``. Semantics follow LangGraph's
``InMemoryStore`` (operations, filters, max-pooling over fields, ordering), checked by a test
that runs both.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
)

# The same filter and namespace-matching rules as LangGraph's InMemoryStore (private helpers,
# imported rather than copied so the two stores cannot drift apart).
from langgraph_memgpt._compat import filter_matches, namespace_matches
from langgraph_memgpt.archival.bit_index import BitIndex
from langgraph_memgpt.search.text import keyword_query
from langgraph_memgpt.storage import (
    StorageError,
    check_database_file,
    connect,
    storage_error,
)

SEPARATOR = "\x1f"
"""Joins namespace labels in the ``namespaces`` table (a character labels never contain)."""
RESCORE_FACTOR = 20
"""Binary-quantized candidates read per requested result before exact re-scoring."""
MIN_CANDIDATES = 200
ARCHIVE = "archive"
ARCHIVE_SETTING = "MEMGPT_ARCHIVE_DB"
ARCHIVE_FIX = (
    "Fix: restore the archive from a backup (or re-import a `langgraph-memgpt export` file), "
    f"or move it aside to start a new empty archive ({ARCHIVE_SETTING} chooses the file)."
)


def _ns_name(namespace: Sequence[str]) -> str:
    return SEPARATOR.join(namespace) + SEPARATOR


def _ns_tuple(name: str) -> tuple[str, ...]:
    return tuple(name.split(SEPARATOR)[:-1])


def _now() -> datetime:
    return datetime.now(UTC)


class SqliteVecStore(BaseStore):
    """A ``BaseStore`` on one SQLite file with sqlite-vec vector search.

    Args:
        path: Database file (created if missing); ``":memory:"`` for a throwaway store.
        index: LangGraph index config: ``{"dims": 384, "embed": embeddings, "fields": [...]}``.
            Without it the store keeps items but cannot search by meaning.
        ttl: LangGraph TTL config (``default_ttl`` minutes, ``refresh_on_read``); expired items
            are never returned and are deleted by ``sweep_ttl`` (run on writes).
        memory_index: Keep each searched namespace's binary vectors in memory (56 bytes a
            vector, loaded at its first search) for a first pass about ten times faster than
            sqlite-vec's k-NN at 100,000 passages. ``False`` searches ``vec_index`` on disk.

    Example:
        ```python
        from langgraph_memgpt.archival import SqliteVecStore, default_index_config

        store = SqliteVecStore("archive.sqlite", index=default_index_config())
        store.put(("archival", "ada"), "p1", {"content": "Ada's cat is called Miso."})
        store.search(("archival", "ada"), query="pet name", limit=3)
        ```
    """

    supports_ttl = True

    def __init__(
        self,
        path: str | Path,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        memory_index: bool = True,
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            check_database_file(self.path, ARCHIVE, ARCHIVE_FIX)
        self.lock = threading.RLock()
        self.ttl_config = ttl
        self.index_config = dict(index) if index else None
        self.embeddings: Embeddings | None = None
        self.dims: int | None = None
        self.fields: list[tuple[str, Any]] = []
        self.memory_index = memory_index
        self._bit_indexes: dict[int, BitIndex] = {}
        if self.index_config:
            self.embeddings = ensure_embeddings(self.index_config.get("embed"))
            self.dims = int(self.index_config["dims"])
            self.fields = [
                (p, tokenize_path(p)) if p != "$" else (p, p)
                for p in (self.index_config.get("fields") or ["$"])
            ]
        with self._storage_errors():
            self.conn = connect(self.path)
            self._setup()

    @contextmanager
    def _storage_errors(self) -> Iterator[None]:
        """A storage fault in the block (read-only, disk full, corrupted) surfaces as a
        StorageError naming this file and the fix; other errors pass unchanged."""
        try:
            yield
        except StorageError:
            raise
        except Exception as error:
            clear = storage_error(error, self.path, ARCHIVE, ARCHIVE_SETTING)
            if clear is not None:
                raise clear from error
            raise

    # -- schema ----------------------------------------------------------------------------

    def _setup(self) -> None:
        with self.lock, self.conn:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT);
                CREATE TABLE IF NOT EXISTS namespaces (
                    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                CREATE TABLE IF NOT EXISTS items (
                    id INTEGER PRIMARY KEY, ns_id INTEGER NOT NULL, key TEXT NOT NULL,
                    value TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
                    expires_at REAL, ttl_minutes REAL, UNIQUE (ns_id, key));
                CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at)
                    WHERE expires_at IS NOT NULL;
                CREATE TABLE IF NOT EXISTS vectors (
                    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, ns_id INTEGER NOT NULL,
                    path TEXT NOT NULL, embedding BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS vectors_by_item ON vectors (item_id);
                CREATE INDEX IF NOT EXISTS vectors_by_namespace ON vectors (ns_id);
                CREATE TABLE IF NOT EXISTS vector_deletions (
                    ns_id INTEGER PRIMARY KEY, count INTEGER NOT NULL);
                CREATE VIRTUAL TABLE IF NOT EXISTS vec_text USING fts5(
                    ns, text, content='', contentless_delete=1,
                    tokenize='porter unicode61');
                """
            )
            stored = self.conn.execute("SELECT value FROM store_meta WHERE key = 'dims'").fetchone()
            if self.dims is None:
                return
            if stored is None:
                self.conn.execute("INSERT INTO store_meta VALUES ('dims', ?)", (str(self.dims),))
            elif int(stored[0]) != self.dims:
                raise ValueError(
                    f"archive {self.path} holds {stored[0]}-dimension vectors but the configured "
                    f"embedding model makes {self.dims}-dimension ones; use the model the "
                    "archive was built with, or a new archive file"
                )
            self.conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS vec_index USING vec0("
                f"ns_id INTEGER PARTITION KEY, bq bit[{self.dims}])"
            )

    def _namespace_id(self, namespace: Sequence[str], create: bool) -> int | None:
        name = _ns_name(namespace)
        row = self.conn.execute("SELECT id FROM namespaces WHERE name = ?", (name,)).fetchone()
        if row is not None or not create:
            return row[0] if row else None
        return self.conn.execute("INSERT INTO namespaces (name) VALUES (?)", (name,)).lastrowid

    def _namespaces_under(self, prefix: Sequence[str]) -> list[tuple[int, tuple[str, ...]]]:
        if not prefix:
            rows = self.conn.execute("SELECT id, name FROM namespaces ORDER BY id").fetchall()
        else:
            start = SEPARATOR.join(prefix) + SEPARATOR
            rows = self.conn.execute(
                "SELECT id, name FROM namespaces WHERE substr(name, 1, ?) = ? ORDER BY id",
                (len(start), start),
            ).fetchall()
        return [(r[0], _ns_tuple(r[1])) for r in rows]

    # -- BaseStore ---------------------------------------------------------------------------

    @staticmethod
    def _plan(ops: list[Op]) -> tuple[dict[tuple[tuple[str, ...], str], PutOp], set[str]]:
        """The batch's writes (the last one per key wins) and its distinct search queries.

        Like InMemoryStore, reads see the store as it was before the batch's own writes.
        """
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, PutOp):
                puts[(tuple(op.namespace), op.key)] = op
        queries = {op.query for op in ops if isinstance(op, SearchOp) and op.query}
        return puts, queries

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        puts, queries = self._plan(ops)
        query_vectors = self._embed_queries(queries)
        texts = self._texts_to_embed(puts.values())
        vectors = (
            self.embeddings.embed_documents([t for t, _ in texts])
            if texts and self.embeddings
            else []
        )
        with self._storage_errors():
            return self._run(ops, puts, query_vectors, texts, vectors)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        puts, queries = self._plan(ops)
        query_vectors: dict[str, np.ndarray] = {}
        if queries and self.embeddings:
            embedded = await asyncio.gather(*(self.embeddings.aembed_query(q) for q in queries))
            query_vectors = {
                q: np.asarray(v, dtype=np.float32) for q, v in zip(queries, embedded, strict=True)
            }
        texts = self._texts_to_embed(puts.values())
        vectors = (
            await self.embeddings.aembed_documents([t for t, _ in texts])
            if texts and self.embeddings
            else []
        )
        with self._storage_errors():
            return await asyncio.to_thread(self._run, ops, puts, query_vectors, texts, vectors)

    def _embed_queries(self, queries: set[str]) -> dict[str, np.ndarray]:
        if not queries or not self.embeddings:
            return {}
        return {q: np.asarray(self.embeddings.embed_query(q), dtype=np.float32) for q in queries}

    def _texts_to_embed(self, puts: Iterable[PutOp]) -> list[tuple[str, tuple[Any, str, str]]]:
        """(text, (namespace, key, path)) for every field of every put to index."""
        if not self.embeddings:
            return []
        found = []
        for op in puts:
            if op.value is None or op.index is False:
                continue
            paths = self.fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
            for path, tokens in paths:
                texts = get_text_at_path(op.value, tokens)
                for number, text in enumerate(texts):
                    where = f"{path}.{number}" if len(texts) > 1 else path
                    found.append((text, (tuple(op.namespace), op.key, where)))
        return found

    def _run(
        self,
        ops: list[Op],
        puts: dict[tuple[tuple[str, ...], str], PutOp],
        query_vectors: dict[str, np.ndarray],
        texts: list[tuple[str, tuple[Any, str, str]]],
        vectors: list[list[float]],
    ) -> list[Result]:
        with self.lock:
            results: list[Result] = []
            for op in ops:
                if isinstance(op, GetOp):
                    results.append(self._get(op))
                elif isinstance(op, SearchOp):
                    results.append(self._search(op, query_vectors.get(op.query or "")))
                elif isinstance(op, ListNamespacesOp):
                    results.append(self._list_namespaces(op))
                elif isinstance(op, PutOp):
                    results.append(None)
                else:
                    raise ValueError(f"Unknown operation type: {type(op)}")
            if puts:
                self._apply_puts(puts, texts, vectors)
            return results

    # -- reads -----------------------------------------------------------------------------

    def _live(self) -> str:
        return "(i.expires_at IS NULL OR i.expires_at > ?)"

    def _item(self, row: Sequence[Any], namespace: tuple[str, ...]) -> Item:
        return Item(
            value=json.loads(row[2]),
            key=row[1],
            namespace=namespace,
            created_at=datetime.fromisoformat(row[3]),
            updated_at=datetime.fromisoformat(row[4]),
        )

    def _refresh(self, item_ids: Sequence[int], refresh: bool | None) -> None:
        if refresh is None:
            refresh = (self.ttl_config or {}).get("refresh_on_read", True)
        if refresh and item_ids:
            with self.conn:
                self.conn.execute(
                    "UPDATE items SET expires_at = ? + ttl_minutes * 60 WHERE ttl_minutes IS NOT "
                    f"NULL AND id IN ({','.join('?' * len(item_ids))})",
                    (time.time(), *item_ids),
                )

    def _get(self, op: GetOp) -> Item | None:
        ns_id = self._namespace_id(op.namespace, create=False)
        if ns_id is None:
            return None
        row = self.conn.execute(
            "SELECT i.id, i.key, i.value, i.created_at, i.updated_at FROM items i "
            f"WHERE i.ns_id = ? AND i.key = ? AND {self._live()}",
            (ns_id, op.key, time.time()),
        ).fetchone()
        if row is None:
            return None
        self._refresh([row[0]], op.refresh_ttl)
        return self._item(row, tuple(op.namespace))

    def _matching_items(self, ns_ids: list[int], op: SearchOp) -> Iterable[tuple[Any, int]]:
        """Live items of the namespaces, in store order, that pass the filter."""
        marks = ",".join("?" * len(ns_ids))
        cursor = self.conn.execute(
            "SELECT i.id, i.key, i.value, i.created_at, i.updated_at, i.ns_id FROM items i "
            f"WHERE i.ns_id IN ({marks}) AND {self._live()} ORDER BY i.ns_id, i.id",
            (*ns_ids, time.time()),
        )
        for row in cursor:
            if op.filter:
                value = json.loads(row[2])
                if not filter_matches(value, op.filter):
                    continue
            yield row, row[5]

    def _search(self, op: SearchOp, query_vector: np.ndarray | None) -> list[SearchItem]:
        namespaces = self._namespaces_under(op.namespace_prefix)
        if not namespaces:
            return []
        names = dict(namespaces)
        ns_ids = [n for n, _ in namespaces]
        if query_vector is None:
            chosen = []
            for row, ns_id in self._matching_items(ns_ids, op):
                chosen.append((row, ns_id))
                if len(chosen) >= op.offset + op.limit:
                    break
            chosen = chosen[op.offset :]
            self._refresh([r[0] for r, _ in chosen], op.refresh_ttl)
            return [self._search_item(r, names[n], None) for r, n in chosen]
        scored = self._nearest(ns_ids, query_vector, op)
        chosen = scored[op.offset : op.offset + op.limit]
        self._refresh([r[0] for _, r, _ in chosen], op.refresh_ttl)
        return [self._search_item(r, names[n], score) for score, r, n in chosen]

    def _nearest(
        self, ns_ids: list[int], query: np.ndarray, op: SearchOp
    ) -> list[tuple[float, Any, int]]:
        """Items by exact cosine similarity among binary-quantized nearest candidates."""
        wanted = op.offset + op.limit
        depth = max(MIN_CANDIDATES, RESCORE_FACTOR * wanted)
        while True:
            candidates: list[int] = []
            for ns_id in ns_ids:
                candidates += self._candidates(ns_id, query, depth)
            scored = self._rescore(candidates, query, op)
            exhausted = len(candidates) < depth * len(ns_ids)
            if len(scored) >= wanted or exhausted:
                return scored
            depth *= 4  # filters removed too many candidates: look deeper

    def _candidates(self, ns_id: int, query: np.ndarray, depth: int) -> list[int]:
        """Vector ids of the namespace nearest to ``query`` by Hamming distance."""
        if self.memory_index:
            return self._bit_index(ns_id).nearest(query, depth)
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT rowid FROM vec_index WHERE bq MATCH vec_quantize_binary(?) "
                "AND k = ? AND ns_id = ?",
                (query.tobytes(), depth, ns_id),
            )
        ]

    def _bit_index(self, ns_id: int) -> BitIndex:
        """The namespace's in-memory bits, caught up with the file (other writers included)."""
        max_id, deletions = self.conn.execute(
            "SELECT (SELECT max(id) FROM vectors WHERE ns_id = ?), "
            "(SELECT count FROM vector_deletions WHERE ns_id = ?)",
            (ns_id, ns_id),
        ).fetchone()
        index = self._bit_indexes.get(ns_id)
        if index is None or index.deletions != (deletions or 0):
            index = self._bit_indexes[ns_id] = BitIndex(self.dims or 0, deletions or 0)
        if (max_id or 0) > index.max_id:
            rows = self.conn.execute(
                "SELECT id, embedding FROM vectors WHERE ns_id = ? AND id > ? ORDER BY id",
                (ns_id, index.max_id),
            ).fetchall()
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            index.extend(np.array([r[0] for r in rows]), matrix.reshape(len(rows), -1))
        return index

    def _rescore(
        self, vector_ids: list[int], query: np.ndarray, op: SearchOp
    ) -> list[tuple[float, Any, int]]:
        """Exact cosine of the candidates, computed from their vectors alone; item rows are
        read only for the best ones (reading every candidate's row is what costs time)."""
        if not vector_ids:
            return []
        rows = self.conn.execute(
            "SELECT id, item_id, embedding FROM vectors WHERE id IN "
            f"({','.join('?' * len(vector_ids))})",
            vector_ids,
        ).fetchall()
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
        matrix = matrix.reshape(len(rows), -1)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = (matrix @ query) / np.where(norms == 0, 1.0, norms)
        best: dict[int, float] = {}
        for score, row in zip(scores.tolist(), rows, strict=True):
            if score > best.get(row[1], -2.0):
                best[row[1]] = score  # max-pooling over an item's fields
        ranked = sorted(best.items(), key=lambda entry: -entry[1])
        wanted = op.offset + op.limit
        results: list[tuple[float, Any, int]] = []
        # Filters and expiry are applied to the items in rank order, reading rows in slices.
        for start in range(0, len(ranked), max(wanted * 2, 20)):
            chunk = ranked[start : start + max(wanted * 2, 20)]
            items = {
                r[0]: r
                for r in self.conn.execute(
                    "SELECT i.id, i.key, i.value, i.created_at, i.updated_at, i.ns_id FROM "
                    f"items i WHERE i.id IN ({','.join('?' * len(chunk))}) AND {self._live()}",
                    (*(c[0] for c in chunk), time.time()),
                )
            }
            for item_id, score in chunk:
                row = items.get(item_id)
                if row is None:
                    continue
                if op.filter:
                    value = json.loads(row[2])
                    if not filter_matches(value, op.filter):
                        continue
                results.append((score, row[:5], row[5]))
            if len(results) >= wanted:
                break
        return results

    def _search_item(
        self, row: Sequence[Any], namespace: tuple[str, ...], score: float | None
    ) -> SearchItem:
        return SearchItem(
            namespace=namespace,
            key=row[1],
            value=json.loads(row[2]),
            created_at=datetime.fromisoformat(row[3]),
            updated_at=datetime.fromisoformat(row[4]),
            score=score,
        )

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        rows = self.conn.execute(
            "SELECT DISTINCT n.name FROM namespaces n JOIN items i ON i.ns_id = n.id "
            f"WHERE {self._live()}",
            (time.time(),),
        ).fetchall()
        namespaces = [_ns_tuple(r[0]) for r in rows]
        if op.match_conditions:
            namespaces = [
                ns
                for ns in namespaces
                if all(namespace_matches(c, ns) for c in op.match_conditions)
            ]
        if op.max_depth is not None:
            namespaces = sorted({ns[: op.max_depth] for ns in namespaces})
        else:
            namespaces = sorted(namespaces)
        return namespaces[op.offset : op.offset + op.limit]

    # -- writes ----------------------------------------------------------------------------

    def _apply_puts(
        self,
        puts: dict[tuple[tuple[str, ...], str], PutOp],
        texts: list[tuple[str, tuple[Any, str, str]]],
        vectors: list[list[float]],
    ) -> None:
        """Write a batch set-wise (a few statements per namespace, not several per item)."""
        by_item: dict[tuple[tuple[str, ...], str], list[tuple[str, str, list[float]]]] = {}
        for (text, (namespace, key, path)), vector in zip(texts, vectors, strict=True):
            by_item.setdefault((namespace, key), []).append((path, text, vector))
        by_namespace: dict[tuple[str, ...], list[PutOp]] = {}
        for (namespace, _), op in puts.items():
            by_namespace.setdefault(namespace, []).append(op)
        now = _now().isoformat()
        try:
            self._write_puts(by_namespace, by_item, now)
        except BaseException:
            self._bit_indexes.clear()  # may hold edits of the rolled-back transaction
            raise

    def _write_puts(
        self,
        by_namespace: dict[tuple[str, ...], list[PutOp]],
        by_item: dict[tuple[tuple[str, ...], str], list[tuple[str, str, list[float]]]],
        now: str,
    ) -> None:
        with self.conn:  # one transaction: a batch is stored whole or not at all
            for namespace, ops in by_namespace.items():
                writes = [op for op in ops if op.value is not None]
                ns_id = self._namespace_id(namespace, create=bool(writes))
                if ns_id is None:
                    continue
                existing = self._item_ids(ns_id, [op.key for op in ops])
                self._drop_vectors(list(existing.values()))
                deleted = [
                    existing[op.key] for op in ops if op.value is None and op.key in existing
                ]
                if deleted:
                    self.conn.execute(
                        f"DELETE FROM items WHERE id IN ({','.join('?' * len(deleted))})", deleted
                    )
                rows = []
                for op in writes:
                    # BaseStore.put has already put the default TTL in the op; None here
                    # means "never expires" (LangGraph's SqliteStore reads it the same way).
                    ttl = op.ttl
                    expires = time.time() + ttl * 60 if ttl else None
                    rows.append((ns_id, op.key, json.dumps(op.value), now, now, expires, ttl))
                self.conn.executemany(
                    "INSERT INTO items (ns_id, key, value, created_at, updated_at, expires_at, "
                    "ttl_minutes) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ns_id, key) DO "
                    "UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
                    "expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes",
                    rows,
                )
                ids = self._item_ids(ns_id, [op.key for op in writes])
                fields = [
                    (ids[op.key], path, text, vector)
                    for op in writes
                    for path, text, vector in by_item.get((namespace, op.key), [])
                ]
                self._add_vectors(ns_id, fields)
            self._sweep()

    def _item_ids(self, ns_id: int, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found.update(
                self.conn.execute(
                    f"SELECT key, id FROM items WHERE ns_id = ? AND key IN "
                    f"({','.join('?' * len(chunk))})",
                    (ns_id, *chunk),
                ).fetchall()
            )
        return found

    def _add_vectors(self, ns_id: int, fields: list[tuple[int, str, str, list[float]]]) -> None:
        if not fields:
            return
        matrix = np.asarray([f[3] for f in fields], dtype=np.float32)
        if matrix.shape[1] != self.dims:
            raise ValueError(
                f"embeddings have {matrix.shape[1]} dimensions, the archive expects {self.dims}"
            )
        first = (self.conn.execute("SELECT max(id) FROM vectors").fetchone()[0] or 0) + 1
        vector_ids = range(first, first + len(fields))
        blobs = [row.tobytes() for row in matrix]
        self.conn.executemany(
            "INSERT INTO vectors (id, item_id, ns_id, path, embedding) VALUES (?, ?, ?, ?, ?)",
            [
                (vid, f[0], ns_id, f[1], blob)
                for vid, f, blob in zip(vector_ids, fields, blobs, strict=True)
            ],
        )
        self.conn.executemany(
            "INSERT INTO vec_index (rowid, ns_id, bq) VALUES (?, ?, vec_quantize_binary(?))",
            [(vid, ns_id, blob) for vid, blob in zip(vector_ids, blobs, strict=True)],
        )
        self.conn.executemany(
            "INSERT INTO vec_text (rowid, ns, text) VALUES (?, ?, ?)",
            [(vid, f"n{ns_id}", f[2]) for vid, f in zip(vector_ids, fields, strict=True)],
        )

    def _drop_vectors(self, item_ids: list[int]) -> None:
        if not item_ids:
            return
        rows = self.conn.execute(
            f"SELECT id, ns_id FROM vectors WHERE item_id IN ({','.join('?' * len(item_ids))})",
            item_ids,
        ).fetchall()
        if not rows:
            return
        ids = [r[0] for r in rows]
        by_namespace: dict[int, list[int]] = {}
        for vector_id, ns_id in rows:
            by_namespace.setdefault(ns_id, []).append(vector_id)
        for ns_id, dropped in by_namespace.items():
            # Other connections see the count change and reload; our own copy is edited in
            # place (a reload of 100,000 vectors costs half a second).
            (count,) = self.conn.execute(
                "INSERT INTO vector_deletions VALUES (?, 1) ON CONFLICT (ns_id) DO UPDATE "
                "SET count = count + 1 RETURNING count",
                (ns_id,),
            ).fetchone()
            index = self._bit_indexes.get(ns_id)
            if index is not None and index.deletions == count - 1:
                index.remove(dropped)
                index.deletions = count
        marks = ",".join("?" * len(ids))
        self.conn.execute(f"DELETE FROM vec_index WHERE rowid IN ({marks})", ids)
        self.conn.execute(f"DELETE FROM vec_text WHERE rowid IN ({marks})", ids)
        self.conn.execute(f"DELETE FROM vectors WHERE id IN ({marks})", ids)

    def _sweep(self) -> int:
        expired = [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (time.time(),),
            )
        ]
        self._drop_vectors(expired)
        if expired:
            self.conn.execute(
                f"DELETE FROM items WHERE id IN ({','.join('?' * len(expired))})", expired
            )
        return len(expired)

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many."""
        with self.lock, self._storage_errors():
            try:
                with self.conn:
                    return self._sweep()
            except BaseException:
                self._bit_indexes.clear()  # may hold edits of the rolled-back transaction
                raise

    # -- beyond BaseStore: keyword search and counts for archival memory -------------------

    def keyword_search(
        self, namespace: Sequence[str], query: str, limit: int = 50
    ) -> list[tuple[str, float]]:
        """(key, bm25 score) of items in ``namespace`` whose indexed text matches ``query``."""
        match = keyword_query(query)
        with self.lock:
            ns_id = self._namespace_id(namespace, create=False)
            if match is None or ns_id is None:
                return []
            hits = self.conn.execute(
                "SELECT rowid, bm25(vec_text) FROM vec_text WHERE vec_text MATCH ? "
                "ORDER BY bm25(vec_text) LIMIT ?",
                (f"ns:n{ns_id} AND ({match})", limit * 4),
            ).fetchall()
            if not hits:
                return []
            owners = dict(
                self.conn.execute(
                    "SELECT v.id, i.key FROM vectors v JOIN items i ON i.id = v.item_id "
                    f"WHERE v.id IN ({','.join('?' * len(hits))}) AND {self._live()}",
                    (*(h[0] for h in hits), time.time()),
                ).fetchall()
            )
        best: dict[str, float] = {}
        for vector_id, score in hits:  # best first; an item's first hit is its best field
            key = owners.get(vector_id)
            if key is not None and key not in best:
                best[key] = -score
        return list(best.items())[:limit]

    def count(self, namespace: Sequence[str]) -> int:
        with self.lock:
            ns_id = self._namespace_id(namespace, create=False)
            if ns_id is None:
                return 0
            return self.conn.execute(
                f"SELECT count(*) FROM items i WHERE i.ns_id = ? AND {self._live()}",
                (ns_id, time.time()),
            ).fetchone()[0]

    def restore_timestamps(
        self, namespace: Sequence[str], times: Sequence[tuple[str, str, str]]
    ) -> None:
        """Set ``(key, created_at, updated_at)`` (ISO 8601) on items already stored.

        ``put`` stamps the time of the write; an import gives passages back the times they
        were first stored, which archival search filters and shows them by.
        """
        name = _ns_name(namespace)
        rows = [(created, updated, key, name) for key, created, updated in times]
        with self.lock, self.conn:
            self.conn.executemany(
                "UPDATE items SET created_at = ?, updated_at = ? WHERE key = ? AND ns_id = "
                "(SELECT id FROM namespaces WHERE name = ?)",
                rows,
            )

    def close(self) -> None:
        with self.lock:
            self.conn.close()
