"""The search index over recall memory: BM25 (SQLite FTS5) + embeddings, fused by rank.

It is derived data: built from the thread's checkpoints (see ``history.py``), caught up
incrementally before each search, and rebuildable from them at any time (``rebuild``). Each
message is indexed with its speaker and with the text of its neighbours in the conversation,
since the answer to a question often sits in the turn that replies to, or is replied to by,
the one that names the topic.

It holds only what a search can return: messages with something to say (no row for an empty
tool-call turn or a bare acknowledgement), tool results without the core memory blocks an
edit echoes (``without_block_updates``), and FTS5 rows without stopwords, which no query holds.

Being derived, a damaged index file is not an error for the user: it is moved aside (kept as
``<file>.corrupt-<time>`` for inspection) and rebuilt from the checkpoints on the next search.
A read-only file or a full disk gives a clear StorageError naming the file and the fix.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph_memgpt.embeddings import EmbeddingModel
from langgraph_memgpt.graph.prompts import without_block_updates
from langgraph_memgpt.graph.state import date_words, message_timestamp
from langgraph_memgpt.search.fusion import KEYWORD_WEIGHT, RRF_K, SEMANTIC_WEIGHT, fuse
from langgraph_memgpt.search.quantize import (
    as_int8,
    from_int8,
    pack_scaled_int8,
    unpack_scaled_int8,
)
from langgraph_memgpt.search.text import (
    WORD,
    any_of,
    content_terms,
    keyword_text,
    normalize_timestamp,
)
from langgraph_memgpt.storage import (
    StorageError,
    check_database_file,
    connect,
    storage_error,
)

logger = logging.getLogger(__name__)

SEARCH_TOOL_NAME = "conversation_search"
WHAT = "recall index"
SETTING = "MEMGPT_RECALL_INDEX"
# Ranking, measured on the LoCoMo dev conversations (tests/benchmarks/locomo_recall.py):
# BM25 over the message and its neighbours (+17 points of recall@10 over the message alone),
# a dense score over the message and its neighbour windows, fused by reciprocal rank.
FTS_COLUMNS = ("thread", "body", "prev1", "next1", "prev2", "next2", "date")
FTS_WEIGHTS = (0.0, 1.0, 0.5, 0.5, 0.25, 0.25, 1.0)
"""bm25 weight per column: the message, its +-1 and +-2 neighbours, its date in words."""
SESSION_GAP = timedelta(hours=4)
"""Messages further apart than this are different sessions: neighbours stay within one."""
CANDIDATES = 100
"""How deep each ranked list is read before fusion (and so the most results a search has)."""
MIN_SIMILARITY = 0.2
"""Semantic hits below this similarity are not results on their own."""
POSTINGS_BUDGET = 20_000
"""Most index rows a keyword search reads. In a 100,000-message thread a common word is in
tens of thousands of rows (each row also holds its neighbours' words), and BM25 scores every
row it reads; such words weigh little (low IDF), so the rarest terms that fit the budget are
kept. Threads of a few thousand messages never reach it: their ranking is unchanged."""


@dataclass(frozen=True)
class RecallHit:
    message_id: str
    role: str
    name: str | None
    timestamp: str | None
    text: str
    score: float
    similarity: float | None = None
    """Cosine similarity of the query and the message (with its neighbours), where the
    query had words to embed: a relevance on the same scale as an archival passage's."""


@dataclass(frozen=True)
class SearchTuning:
    """The constants a search ranks with (an index's ``tuning``): the defaults were chosen on
    LoCoMo conversations, and ``tests/benchmarks/locomo_recall.py`` cross-validates them by
    choosing among alternatives on four conversations and scoring on the fifth."""

    rrf_k: int = RRF_K
    keyword_weight: float = KEYWORD_WEIGHT
    semantic_weight: float = SEMANTIC_WEIGHT
    fts_weights: tuple[float, ...] = FTS_WEIGHTS
    """BM25 weight of each FTS column: the message, its neighbours, its date words."""


@dataclass(frozen=True)
class RecallPage:
    hits: list[RecallHit]
    total: int
    page: int
    pages: int
    limit: int


def indexed_text(message: BaseMessage) -> str:
    """What a message says, as a person would quote it."""
    content = message.content
    text = (
        content
        if isinstance(content, str)
        else " ".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)
    )
    if isinstance(message, AIMessage):
        for call in message.tool_calls:
            said = call["args"].get("message") if call["name"] == "send_message" else None
            if isinstance(said, str):
                text = f"{text}\n{said}".strip()
    if isinstance(message, ToolMessage):
        text = without_block_updates(text)
    return text.strip()


# Tool results that say nothing: searching them would only return noise.
_SILENT_TOOLS = frozenset({"send_message"})


def is_search_echo(message: BaseMessage) -> bool:
    """Results of earlier searches (they would echo) and empty acknowledgements."""
    return isinstance(message, ToolMessage) and (
        message.name == SEARCH_TOOL_NAME or message.name in _SILENT_TOOLS
    )


def role_of(message: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant"}.get(message.type, message.type)


def speaker_text(name: str | None, text: str) -> str:
    return f"{name}: {text}" if name else text


INDEX_VERSION = "5"
"""Bumped when the layout or the indexed text changes: an older index is rebuilt (it is
derived from the checkpoints, so nothing is lost)."""


@dataclass
class _ThreadVectors:
    """A thread's search vectors in memory (float32, one row per entry), by rowid.

    Rows live in buffers that double when full: appending a turn's rows to a 100,000-row
    thread must not copy the other 150 MB (which ``np.vstack`` would, at every search).
    """

    size: int = 0
    row_buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    vector_buffer: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    positions: dict[int, int] = field(default_factory=dict)
    max_rowid: int = 0

    @property
    def rowids(self) -> np.ndarray:
        return self.row_buffer[: self.size]

    @property
    def matrix(self) -> np.ndarray:
        return self.vector_buffer[: self.size]

    def append(self, rowids: list[int], vectors: np.ndarray) -> None:
        end = self.size + len(rowids)
        if end > len(self.row_buffer):
            capacity = max(end, 2 * len(self.row_buffer), 1024)
            row_buffer = np.zeros(capacity, dtype=np.int64)
            vector_buffer = np.zeros((capacity, vectors.shape[1]), dtype=np.float32)
            if self.size:
                row_buffer[: self.size] = self.rowids
                vector_buffer[: self.size] = self.matrix
            self.row_buffer, self.vector_buffer = row_buffer, vector_buffer
        self.row_buffer[self.size : end] = rowids
        self.vector_buffer[self.size : end] = vectors
        self.positions.update({rowid: self.size + i for i, rowid in enumerate(rowids)})
        self.size = end
        self.max_rowid = max(self.max_rowid, rowids[-1])


class RecallIndex:
    """One SQLite file of FTS5 rows and vectors for any number of threads."""

    def __init__(self, path: str | Path, embedder: EmbeddingModel) -> None:
        self.path = str(path)
        self.embedder = embedder
        self.tuning = SearchTuning()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._vectors: dict[int, _ThreadVectors] = {}
        self._speakers: dict[int, frozenset[str]] = {}
        try:
            self._open()
        except Exception as error:
            clear = error if isinstance(error, StorageError) else None
            clear = clear or storage_error(error, self.path, WHAT, SETTING)
            if clear is None:
                raise
            if clear.problem != "corrupted" or self.path == ":memory:":
                raise clear from error
            self._set_aside(clear)
            self._open()

    def _open(self) -> None:
        check_database_file(self.path, WHAT, "It is rebuilt from the checkpoints.")
        self.conn = connect(self.path, load_vec=False)
        try:
            self._setup()
        except BaseException:
            self.conn.close()
            raise

    def _set_aside(self, problem: StorageError) -> None:
        """Move a damaged index file (and its WAL files) aside: it is rebuilt from the
        checkpoints, thread by thread, at their next search."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            source = Path(self.path + suffix)
            if source.exists():
                source.replace(f"{self.path}.corrupt-{stamp}{suffix}")
        logger.warning(
            "%s; moved it to %s.corrupt-%s and rebuilding it from the checkpoints",
            problem,
            self.path,
            stamp,
        )

    def _setup(self) -> None:
        identity = json.dumps(
            {
                "model": self.embedder.name,
                "dimensions": self.embedder.dimensions,
                "version": INDEX_VERSION,
            }
        )
        with self.lock, self.conn:
            # Entries are ~1.2 KB (text and vectors): 8 KB pages leave less slack than 4 KB.
            # Takes effect when the file is created.
            self.conn.execute("PRAGMA page_size=8192")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            stored = self.conn.execute("SELECT value FROM meta WHERE key = 'index'").fetchone()
            if stored is None or stored[0] != identity:
                # Another layout or embedding model: drop the derived data, rebuild on demand.
                self.conn.executescript(
                    "DROP TABLE IF EXISTS threads; DROP TABLE IF EXISTS entries; "
                    "DROP TABLE IF EXISTS entries_fts;"
                )
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('index', ?)", (identity,))
            columns = ", ".join(FTS_COLUMNS)
            self.conn.executescript(
                f"""
                CREATE TABLE IF NOT EXISTS threads (
                    tid INTEGER PRIMARY KEY, thread_key TEXT UNIQUE, cursor TEXT,
                    next_seq INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE IF NOT EXISTS entries (
                    rowid INTEGER PRIMARY KEY, tid INTEGER NOT NULL, message_id TEXT NOT NULL,
                    seq INTEGER NOT NULL, role TEXT NOT NULL, name TEXT, ts TEXT,
                    text TEXT NOT NULL, searchable INTEGER NOT NULL, session INTEGER NOT NULL,
                    self_vec BLOB, vec BLOB, UNIQUE (tid, message_id));
                CREATE INDEX IF NOT EXISTS entries_seq ON entries (tid, seq);
                -- Per connection: the index's document frequency of each stemmed term, and a
                -- scratch table whose vocabulary stems query words with the same tokenizer.
                CREATE VIRTUAL TABLE IF NOT EXISTS temp.index_terms
                    USING fts5vocab(main, entries_fts, 'row');
                CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_words
                    USING fts5(word, tokenize = 'porter unicode61');
                CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_stems
                    USING fts5vocab(temp, query_words, 'instance');
                CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
                    {columns}, content = '', contentless_delete = 1,
                    tokenize = 'porter unicode61');
                """
            )

    # -- bookkeeping -----------------------------------------------------------------------

    def thread(self, thread_key: str) -> tuple[int, dict[str, Any]]:
        with self.lock, self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO threads (thread_key, cursor) VALUES (?, '{}')",
                (thread_key,),
            )
            tid, cursor = self.conn.execute(
                "SELECT tid, cursor FROM threads WHERE thread_key = ?", (thread_key,)
            ).fetchone()
        return tid, json.loads(cursor)

    def add(self, tid: int, messages: Sequence[BaseMessage], cursor: dict[str, Any]) -> int:
        """Index new messages (and longer versions of known ones); returns how many changed.

        A new message also changes its neighbours' entries (their context columns and
        window vectors), so those are rewritten too.
        """
        with self.lock:
            known = self._known(tid, messages)
            fresh = [
                m for m in messages if m.id not in known or len(indexed_text(m)) > known[m.id][1]
            ]
            texts = [indexed_text(m) for m in fresh]
            if tid in self._speakers:
                self._speakers[tid] |= {
                    w.lower() for m in fresh if m.name for w in WORD.findall(m.name)
                }
            with self.conn:
                touched = self._store_entries(tid, fresh, texts, known)
                self._reindex(tid, touched)
                self.conn.execute(
                    "UPDATE threads SET cursor = ? WHERE tid = ?", (json.dumps(cursor), tid)
                )
        return len(fresh)

    def _known(self, tid: int, messages: Sequence[BaseMessage]) -> dict[str, tuple[int, int]]:
        known: dict[str, tuple[int, int]] = {}
        ids = [m.id for m in messages]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in self.conn.execute(
                "SELECT message_id, rowid, length(text) FROM entries WHERE tid = ? "
                f"AND message_id IN ({','.join('?' * len(chunk))})",
                (tid, *chunk),
            ):
                known[row[0]] = (row[1], row[2])
        return known

    def _store_entries(
        self,
        tid: int,
        fresh: Sequence[BaseMessage],
        texts: Sequence[str],
        known: dict[str, tuple[int, int]],
    ) -> set[int]:
        """Write the entries' rows and own vectors; returns rowids whose index must change."""
        searchable = [bool(t) and not is_search_echo(m) for m, t in zip(fresh, texts, strict=True)]
        own = iter(
            self.embedder.embed_documents(
                [
                    speaker_text(m.name, t)
                    for m, t, ok in zip(fresh, texts, searchable, strict=True)
                    if ok
                ]
            )
        )
        (next_seq,) = self.conn.execute(
            "SELECT next_seq FROM threads WHERE tid = ?", (tid,)
        ).fetchone()
        last = self.conn.execute(
            "SELECT ts, session FROM entries WHERE tid = ? AND searchable = 1 "
            "ORDER BY seq DESC LIMIT 1",
            (tid,),
        ).fetchone()
        last_ts, session = (last[0], last[1]) if last else (None, 0)
        touched: set[int] = set()
        for message, text, ok in zip(fresh, texts, searchable, strict=True):
            ts = normalize_timestamp(message_timestamp(message))
            self_vec = as_int8(next(own)) if ok else None
            row = (role_of(message), message.name, ts, text, int(ok), self_vec)
            if message.id in known:
                rowid = known[message.id][0]
                self.conn.execute(
                    "UPDATE entries SET role=?, name=?, ts=?, text=?, searchable=?, self_vec=? "
                    "WHERE rowid=?",
                    (*row, rowid),
                )
            elif not ok:
                # A message no search returns (an empty tool-call turn, a search's echo, a
                # bare acknowledgement) is no one's neighbour either: a row would only hold
                # its text. Met again, it is passed over again (no embedding, nothing stored).
                continue
            else:
                if (
                    ts
                    and last_ts
                    and (datetime.fromisoformat(ts) - datetime.fromisoformat(last_ts) > SESSION_GAP)
                ):
                    session += 1
                rowid = self.conn.execute(
                    "INSERT INTO entries (tid, message_id, seq, role, name, ts, text, "
                    "searchable, self_vec, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (tid, message.id, next_seq, *row, session),
                ).lastrowid
                next_seq += 1
                if ts:
                    last_ts = ts
            touched.add(rowid)
        self.conn.execute("UPDATE threads SET next_seq = ? WHERE tid = ?", (next_seq, tid))
        return touched

    def _neighbourhood(self, tid: int, rowid: int) -> list[tuple]:
        """Searchable entries of the same session around ``rowid``, in order."""
        seq, session = self.conn.execute(
            "SELECT seq, session FROM entries WHERE rowid = ?", (rowid,)
        ).fetchone()
        before = self.conn.execute(
            "SELECT rowid, name, text, ts, self_vec FROM entries WHERE tid = ? AND session = ? "
            "AND searchable = 1 AND seq < ? ORDER BY seq DESC LIMIT 2",
            (tid, session, seq),
        ).fetchall()[::-1]
        after = self.conn.execute(
            "SELECT rowid, name, text, ts, self_vec FROM entries WHERE tid = ? AND session = ? "
            "AND searchable = 1 AND seq > ? ORDER BY seq LIMIT 2",
            (tid, session, seq),
        ).fetchall()
        me = self.conn.execute(
            "SELECT rowid, name, text, ts, self_vec, searchable FROM entries WHERE rowid = ?",
            (rowid,),
        ).fetchone()
        return [*before, me, *after]

    def _reindex(self, tid: int, touched: set[int]) -> None:
        """Rewrite FTS rows and combined vectors of the touched entries and their neighbours."""
        affected = set(touched)
        for rowid in touched:
            affected.update(r[0] for r in self._neighbourhood(tid, rowid)[:5] if r)
        plans = []
        for rowid in sorted(affected):
            around = self._neighbourhood(tid, rowid)
            centre = next(i for i, r in enumerate(around) if r[0] == rowid)
            me = around[centre]
            self.conn.execute("DELETE FROM entries_fts WHERE rowid = ?", (rowid,))
            if len(me) > 5 and not me[5]:
                self.conn.execute("UPDATE entries SET vec = NULL WHERE rowid = ?", (rowid,))
                self._forget_vector(tid, rowid)
                continue

            def text_at(offset: int, around: list = around, centre: int = centre) -> str:
                index = centre + offset
                return keyword_text(around[index][2]) if 0 <= index < len(around) else ""

            self.conn.execute(
                f"INSERT INTO entries_fts (rowid, {', '.join(FTS_COLUMNS)}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rowid,
                    f"t{tid}",
                    text_at(0),
                    text_at(-1),
                    text_at(1),
                    text_at(-2),
                    text_at(2),
                    date_words(me[3]),
                ),
            )
            window = [speaker_text(r[1], r[2]) for r in around]
            texts = [
                " ".join(window[max(0, centre - 1) : centre + 2]),
                " ".join(window[max(0, centre - 2) : centre + 3]),
            ]
            if me[4] is None:  # settled earlier (see below): embed the message again
                texts.append(window[centre])
            settled = len(around) - centre - 1 == 2
            plans.append((rowid, me[4], texts, settled))
        embedded = iter(
            self.embedder.embed_documents([text for plan in plans for text in plan[2]])
            if plans
            else []
        )
        for rowid, self_vec, texts, settled in plans:
            windows = [np.asarray(next(embedded), dtype=np.float32) for _ in texts]
            own = windows.pop() if self_vec is None else from_int8(self_vec)
            # Mean of the three unit vectors: its dot product with a unit query is the mean
            # of the three cosine similarities, so one vector per message is enough.
            combined = (own + windows[0] + windows[1]) / 3
            # With two later neighbours in its session a message's windows are final, so its
            # own vector is no longer needed: dropping it saves a third of the index's
            # vector bytes. Should a neighbour still change (a longer version of a message),
            # the branch above embeds the message again.
            self.conn.execute(
                "UPDATE entries SET vec = ?, self_vec = CASE WHEN ? THEN NULL ELSE self_vec END "
                "WHERE rowid = ?",
                (pack_scaled_int8(combined), settled, rowid),
            )
            self._update_vector(tid, rowid, combined)

    def _update_vector(self, tid: int, rowid: int, vector: np.ndarray) -> None:
        cached = self._vectors.get(tid)
        if cached is not None and rowid in cached.positions:
            cached.matrix[cached.positions[rowid]] = vector

    def _forget_vector(self, tid: int, rowid: int) -> None:
        cached = self._vectors.get(tid)
        if cached is not None and rowid in cached.positions:
            cached.matrix[cached.positions[rowid]] = 0.0

    def clear(self, tid: int) -> None:
        with self.lock, self.conn:
            self.conn.execute(
                "DELETE FROM entries_fts WHERE rowid IN (SELECT rowid FROM entries WHERE tid=?)",
                (tid,),
            )
            self.conn.execute("DELETE FROM entries WHERE tid = ?", (tid,))
            self.conn.execute(
                "UPDATE threads SET next_seq = 0, cursor = '{}' WHERE tid = ?", (tid,)
            )
            self._vectors.pop(tid, None)
            self._speakers.pop(tid, None)

    def count(self, tid: int) -> int:
        with self.lock:
            return self.conn.execute(
                "SELECT count(*) FROM entries WHERE tid = ?", (tid,)
            ).fetchone()[0]

    def speakers(self, tid: int) -> frozenset[str]:
        """Names of the thread's speakers: in nearly every message, so useless as keywords.

        Read once per thread (a scan of its entries), then kept current by ``add``."""
        cached = self._speakers.get(tid)
        if cached is None:
            rows = self.conn.execute(
                "SELECT DISTINCT name FROM entries WHERE tid = ? AND name IS NOT NULL", (tid,)
            )
            cached = frozenset(w.lower() for r in rows for w in WORD.findall(r[0]))
            self._speakers[tid] = cached
        return cached

    # -- search ----------------------------------------------------------------------------

    def _thread_vectors(self, tid: int) -> _ThreadVectors:
        cached = self._vectors.setdefault(tid, _ThreadVectors())
        # ``+tid``: walk the rowids after the last one seen, not the thread's whole tid index.
        rows = self.conn.execute(
            "SELECT rowid, vec FROM entries WHERE rowid > ? AND +tid = ? AND vec IS NOT NULL "
            "ORDER BY rowid",
            (cached.max_rowid, tid),
        ).fetchall()
        if rows:
            cached.append([r[0] for r in rows], unpack_scaled_int8([r[1] for r in rows]))
        return cached

    def search(
        self,
        tid: int,
        query: str,
        *,
        roles: Sequence[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int = 5,
        page: int = 0,
        exclude_ids: Sequence[str] = (),
    ) -> RecallPage:
        """Ranked hits for ``query`` (or, for an empty query, messages in order by time).

        ``exclude_ids``: messages not to return (e.g. the turn that is asking).
        """
        filters, params = ["e.tid = ?", "e.searchable = 1"], [tid]
        excluded: set[int] = set()
        if exclude_ids:
            excluded = {
                r[0]
                for r in self.conn.execute(
                    "SELECT rowid FROM entries WHERE tid = ? AND message_id IN "
                    f"({','.join('?' * len(exclude_ids))})",
                    (tid, *exclude_ids),
                )
            }
        if roles:
            filters.append(f"e.role IN ({','.join('?' * len(roles))})")
            params.extend(roles)
        if start:
            filters.append("e.ts >= ?")
            params.append(start)
        if end:
            filters.append("e.ts < ?")
            params.append(end)
        where = " AND ".join(filters)
        with self.lock:
            if not query.strip():
                if excluded:
                    filters.append(f"e.rowid NOT IN ({','.join('?' * len(excluded))})")
                    params.extend(excluded)
                    where = " AND ".join(filters)
                total = self.conn.execute(
                    f"SELECT count(*) FROM entries e WHERE {where}", params
                ).fetchone()[0]
                rows = self.conn.execute(
                    f"SELECT e.rowid FROM entries e WHERE {where} "
                    "ORDER BY e.ts IS NULL, e.ts, e.seq LIMIT ? OFFSET ?",
                    (*params, limit, page * limit),
                ).fetchall()
                ranked = [(r[0], 0.0) for r in rows]
                return self._page(tid, ranked, total, page, limit, offset_applied=True)
            # Without filters every row of the thread qualifies: skip building the set.
            allowed = (
                None
                if len(params) == 1
                else {
                    r[0]
                    for r in self.conn.execute(
                        f"SELECT e.rowid FROM entries e WHERE {where}", params
                    )
                }
            )
            # Excluded rows leave each ranking before it is cut to its depth and before ranks
            # are given. The asking turn is usually the closest match to its own query, and
            # the window and abandoned branches hold many more such rows: left in until after
            # the cut, they took the candidates' places (LoCoMo QA asked the same questions on
            # four branches, and the last branch's searches came back nearly empty).
            keyword = self._keyword_ranking(tid, query, allowed, excluded)
            query_vector = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
            semantic = self._semantic_ranking(tid, query_vector, allowed, excluded)
        tuning = self.tuning
        ranked = fuse(
            keyword,
            semantic,
            k=tuning.rrf_k,
            keyword_weight=tuning.keyword_weight,
            semantic_weight=tuning.semantic_weight,
        )
        return self._page(
            tid, ranked, len(ranked), page, limit, offset_applied=False, query_vector=query_vector
        )

    def _keyword_ranking(
        self, tid: int, query: str, allowed: set[int] | None, excluded: set[int]
    ) -> list[int]:
        terms, thread_rows = self._affordable_terms(
            content_terms(query, ignore=self.speakers(tid)), f"t{tid}"
        )
        match = any_of(terms)
        if match is None:
            return []
        weights = ", ".join(str(w) for w in self.tuning.fts_weights)
        # Restricting the match to the thread reads the thread's whole posting list: cheap for
        # a thread among many, the dominant cost for one long thread. Past the budget, the
        # thread's rows are picked out of a deeper ranking instead.
        filtered = thread_rows <= POSTINGS_BUDGET
        rows = self.conn.execute(
            "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? "
            f"ORDER BY bm25(entries_fts, {weights}) LIMIT ?",
            (f"thread:t{tid} AND ({match})" if filtered else match, CANDIDATES * 4 + len(excluded)),
        ).fetchall()
        ranked = [r[0] for r in rows]
        if not filtered and ranked:
            ours = {
                r[0]
                for r in self.conn.execute(
                    f"SELECT rowid FROM entries WHERE tid = ? AND rowid IN "
                    f"({','.join('?' * len(ranked))})",
                    (tid, *ranked),
                )
            }
            ranked = [r for r in ranked if r in ours]
        return [r for r in ranked if r not in excluded and (allowed is None or r in allowed)][
            :CANDIDATES
        ]

    def _affordable_terms(self, terms: list[str], thread_token: str) -> tuple[list[str], int]:
        """The rarest ``terms`` whose rows fit POSTINGS_BUDGET (always at least one), and how
        many rows the thread has."""
        if not terms:
            return [], 0
        with self.conn:  # committed at once: an open transaction would pin an old snapshot
            self.conn.executemany(
                "INSERT INTO temp.query_words (rowid, word) VALUES (?, ?)", enumerate(terms)
            )
            stems = dict(self.conn.execute("SELECT doc, term FROM temp.query_stems").fetchall())
            self.conn.execute("DELETE FROM temp.query_words")
        wanted = {*stems.values(), thread_token}
        frequency = dict(
            self.conn.execute(
                "SELECT term, doc FROM temp.index_terms WHERE term IN "
                f"({','.join('?' * len(wanted))})",
                tuple(wanted),
            ).fetchall()
        )
        by_rarity = sorted(range(len(terms)), key=lambda i: (frequency.get(stems.get(i, ""), 0), i))
        kept, rows = [], 0
        for i in by_rarity:
            rows += frequency.get(stems.get(i, ""), 0)
            if kept and rows > POSTINGS_BUDGET:
                break
            kept.append(terms[i])
        return kept, frequency.get(thread_token, 0)

    def _semantic_ranking(
        self, tid: int, query_vector: np.ndarray, allowed: set[int] | None, excluded: set[int]
    ) -> list[int]:
        vectors = self._thread_vectors(tid)
        if not len(vectors.rowids):
            return []
        similarity = vectors.matrix @ query_vector
        keep = similarity >= MIN_SIMILARITY
        if allowed is not None:
            keep &= np.isin(vectors.rowids, np.fromiter(allowed, np.int64, len(allowed)))
        if excluded:
            keep &= ~np.isin(vectors.rowids, np.fromiter(excluded, np.int64, len(excluded)))
        similarity = np.where(keep, similarity, -np.inf)
        depth = min(CANDIDATES, int(np.isfinite(similarity).sum()))
        if depth == 0:
            return []
        top = np.argpartition(-similarity, depth - 1)[:depth]
        top = top[np.argsort(-similarity[top])]
        return [int(vectors.rowids[i]) for i in top]

    def _page(
        self,
        tid: int,
        ranked: list[tuple[int, float]],
        total: int,
        page: int,
        limit: int,
        *,
        offset_applied: bool,
        query_vector: np.ndarray | None = None,
    ) -> RecallPage:
        chosen = ranked if offset_applied else ranked[page * limit : (page + 1) * limit]
        rows = (
            {
                r[0]: r
                for r in self.conn.execute(
                    "SELECT rowid, message_id, role, name, ts, text FROM entries "
                    f"WHERE rowid IN ({','.join('?' * len(chosen))})",
                    [c[0] for c in chosen],
                )
            }
            if chosen
            else {}
        )
        similarity: dict[int, float] = {}
        if query_vector is not None and chosen:
            vectors = self._vectors.get(tid) or _ThreadVectors()
            similarity = {
                r: float(vectors.matrix[vectors.positions[r]] @ query_vector)
                for r, _ in chosen
                if r in vectors.positions
            }
        hits = [
            RecallHit(
                message_id=rows[r][1],
                role=rows[r][2],
                name=rows[r][3],
                timestamp=rows[r][4],
                text=rows[r][5],
                score=score,
                similarity=similarity.get(r),
            )
            for r, score in chosen
            if r in rows
        ]
        pages = max(1, -(-total // limit)) if limit else 1
        return RecallPage(hits=hits, total=total, page=page, pages=pages, limit=limit)
