"""The search index over recall memory: BM25 (SQLite FTS5) + embeddings, fused by rank.

It is derived data: built from the thread's checkpoints (see ``history.py``), caught up
incrementally before each search, and rebuildable from them at any time (``rebuild``). Each
message is indexed with its speaker and with the text of its neighbours in the conversation,
since the answer to a question often sits in the turn that replies to, or is replied to by,
the one that names the topic.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph_memgpt.embeddings import EmbeddingModel
from langgraph_memgpt.graph.state import message_timestamp

SEARCH_TOOL_NAME = "conversation_search"
# Rank fusion: score = sum(weight / (RRF_K + rank)) over the keyword and the semantic lists.
RRF_K = 60
KEYWORD_WEIGHT = 1.0
SEMANTIC_WEIGHT = 1.0
CONTEXT_WEIGHT = 0.3
"""BM25 weight of the neighbours' text relative to the message's own text."""
CANDIDATES = 200
"""How deep each ranked list is read before fusion (and so the most results a search has)."""
MIN_SIMILARITY = 0.25
"""Semantic hits below this cosine similarity are not results on their own."""

_WORD = re.compile(r"[\w']+", re.UNICODE)
# Function words that carry no topic; questions are full of them ("what did ... when").
STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's i
    i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this
    those through to too under until up very was wasn't we we'd we'll we're we've were weren't
    what what's when when's where where's which while who who's whom why why's with won't would
    wouldn't you you'd you'll you're you've your yours yourself yourselves""".split()
)


@dataclass(frozen=True)
class RecallHit:
    message_id: str
    role: str
    name: str | None
    timestamp: str | None
    text: str
    score: float


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


def normalize_timestamp(value: str | None) -> str | None:
    """ISO-8601 in UTC (naive times are taken as UTC), so timestamps compare as strings."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def keyword_query(text: str) -> str | None:
    """An FTS5 query: the content words of ``text``, any of them may match."""
    words = [w.lower().strip("'") for w in _WORD.findall(text)]
    terms = sorted({w for w in words if w and w not in STOPWORDS})
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


@dataclass
class _ThreadVectors:
    """A thread's embeddings in memory, in entry order (rowid), with filter columns."""

    rowids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    max_rowid: int = 0


class RecallIndex:
    """One SQLite file of FTS5 rows and vectors for any number of threads."""

    def __init__(self, path: str | Path, embedder: EmbeddingModel) -> None:
        self.path = str(path)
        self.embedder = embedder
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.lock = threading.RLock()
        self._vectors: dict[int, _ThreadVectors] = {}
        self._setup()

    def _setup(self) -> None:
        with self.lock, self.conn:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
                CREATE TABLE IF NOT EXISTS threads (
                    tid INTEGER PRIMARY KEY, thread_key TEXT UNIQUE, cursor TEXT,
                    next_seq INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE IF NOT EXISTS entries (
                    rowid INTEGER PRIMARY KEY, tid INTEGER NOT NULL, message_id TEXT NOT NULL,
                    seq INTEGER NOT NULL, role TEXT NOT NULL, name TEXT, ts TEXT,
                    text TEXT NOT NULL, searchable INTEGER NOT NULL, vec BLOB,
                    UNIQUE (tid, message_id));
                CREATE INDEX IF NOT EXISTS entries_seq ON entries (tid, seq);
                CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
                    thread, body, context, tokenize = 'porter unicode61');
                """
            )
            stored = self.conn.execute("SELECT value FROM meta WHERE key = 'embedding'").fetchone()
            identity = json.dumps(
                {"model": self.embedder.name, "dimensions": self.embedder.dimensions}
            )
            if stored is None:
                self.conn.execute("INSERT INTO meta VALUES ('embedding', ?)", (identity,))
            elif json.loads(stored[0])["dimensions"] != self.embedder.dimensions:
                raise ValueError(
                    f"recall index {self.path} was built with {stored[0]}; the configured "
                    f"embedding model {self.embedder.name} has {self.embedder.dimensions} "
                    "dimensions. Delete the index file to rebuild it from the checkpoints."
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
        """Index new messages (and longer versions of known ones); returns how many changed."""
        with self.lock:
            known = (
                {
                    row[0]: (row[1], row[2])
                    for row in self.conn.execute(
                        "SELECT message_id, rowid, length(text) FROM entries WHERE tid = ? "
                        f"AND message_id IN ({','.join('?' * len(messages))})",
                        (tid, *(m.id for m in messages)),
                    )
                }
                if messages
                else {}
            )
            fresh = [
                m for m in messages if m.id not in known or len(indexed_text(m)) > known[m.id][1]
            ]
            texts = [indexed_text(m) for m in fresh]
            searchable = [
                bool(t) and not is_search_echo(m) for m, t in zip(fresh, texts, strict=True)
            ]
            to_embed = [t for t, ok in zip(texts, searchable, strict=True) if ok]
            vectors = self.embedder.embed_documents(to_embed)
            vector_iter = iter(vectors)
            with self.conn:
                next_seq = self.conn.execute(
                    "SELECT next_seq FROM threads WHERE tid = ?", (tid,)
                ).fetchone()[0]
                for message, text, ok in zip(fresh, texts, searchable, strict=True):
                    vec = np.asarray(next(vector_iter), dtype=np.float16).tobytes() if ok else None
                    row = (
                        role_of(message),
                        message.name,
                        normalize_timestamp(message_timestamp(message)),
                        text,
                        int(ok),
                        vec,
                    )
                    if message.id in known:
                        rowid = known[message.id][0]
                        self.conn.execute(
                            "UPDATE entries SET role=?, name=?, ts=?, text=?, searchable=?, "
                            "vec=? WHERE rowid=?",
                            (*row, rowid),
                        )
                        self._vectors.pop(tid, None)  # a vector changed in place
                    else:
                        rowid = self.conn.execute(
                            "INSERT INTO entries (tid, message_id, seq, role, name, ts, text, "
                            "searchable, vec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (tid, message.id, next_seq, *row),
                        ).lastrowid
                        next_seq += 1
                    self._refresh_fts(tid, rowid)
                self.conn.execute(
                    "UPDATE threads SET next_seq = ?, cursor = ? WHERE tid = ?",
                    (next_seq, json.dumps(cursor), tid),
                )
        return len(fresh)

    def _refresh_fts(self, tid: int, rowid: int) -> None:
        """(Re)write the FTS rows of an entry and of its neighbours, whose context it is."""
        seq = self.conn.execute("SELECT seq FROM entries WHERE rowid = ?", (rowid,)).fetchone()[0]
        rows = self.conn.execute(
            "SELECT rowid, seq, name, text, searchable FROM entries WHERE tid = ? "
            "AND seq BETWEEN ? AND ? ORDER BY seq",
            (tid, seq - 2, seq + 2),
        ).fetchall()
        by_seq = {r[1]: r for r in rows}
        for s in (seq - 1, seq, seq + 1):
            row = by_seq.get(s)
            if row is None:
                continue
            self.conn.execute("DELETE FROM entries_fts WHERE rowid = ?", (row[0],))
            if not row[4]:
                continue
            body = f"{row[2] or ''} {row[3]}".strip()
            context = " ".join(by_seq[n][3] for n in (s - 1, s + 1) if n in by_seq and by_seq[n][4])
            self.conn.execute(
                "INSERT INTO entries_fts (rowid, thread, body, context) VALUES (?, ?, ?, ?)",
                (row[0], f"t{tid}", body, context),
            )

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

    def count(self, tid: int) -> int:
        with self.lock:
            return self.conn.execute(
                "SELECT count(*) FROM entries WHERE tid = ?", (tid,)
            ).fetchone()[0]

    # -- search ----------------------------------------------------------------------------

    def _thread_vectors(self, tid: int) -> _ThreadVectors:
        cached = self._vectors.get(tid) or _ThreadVectors()
        rows = self.conn.execute(
            "SELECT rowid, vec FROM entries WHERE tid = ? AND rowid > ? AND vec IS NOT NULL "
            "ORDER BY rowid",
            (tid, cached.max_rowid),
        ).fetchall()
        if rows:
            new = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16)
            new = new.reshape(len(rows), -1).astype(np.float32)
            matrix = new if cached.matrix.size == 0 else np.vstack([cached.matrix, new])
            cached = _ThreadVectors(
                rowids=np.concatenate([cached.rowids, [r[0] for r in rows]]).astype(np.int64),
                matrix=matrix,
                max_rowid=rows[-1][0],
            )
            self._vectors[tid] = cached
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
        if exclude_ids:
            filters.append(f"e.message_id NOT IN ({','.join('?' * len(exclude_ids))})")
            params.extend(exclude_ids)
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
                total = self.conn.execute(
                    f"SELECT count(*) FROM entries e WHERE {where}", params
                ).fetchone()[0]
                rows = self.conn.execute(
                    f"SELECT e.rowid FROM entries e WHERE {where} "
                    "ORDER BY e.ts IS NULL, e.ts, e.seq LIMIT ? OFFSET ?",
                    (*params, limit, page * limit),
                ).fetchall()
                ranked = [(r[0], 0.0) for r in rows]
                return self._page(ranked, total, page, limit, offset_applied=True)
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
            keyword = self._keyword_ranking(tid, query, allowed)
            semantic = self._semantic_ranking(tid, query, allowed)
        scores: dict[int, float] = {}
        for ranking, weight in ((keyword, KEYWORD_WEIGHT), (semantic, SEMANTIC_WEIGHT)):
            for rank, rowid in enumerate(ranking):
                scores[rowid] = scores.get(rowid, 0.0) + weight / (RRF_K + rank + 1)
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        return self._page(ranked, len(ranked), page, limit, offset_applied=False)

    def _keyword_ranking(self, tid: int, query: str, allowed: set[int] | None) -> list[int]:
        match = keyword_query(query)
        if match is None:
            return []
        rows = self.conn.execute(
            "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? "
            "ORDER BY bm25(entries_fts, 0.0, 1.0, ?) LIMIT ?",
            (f"thread:t{tid} AND ({match})", CONTEXT_WEIGHT, CANDIDATES * 4),
        ).fetchall()
        return [r[0] for r in rows if allowed is None or r[0] in allowed][:CANDIDATES]

    def _semantic_ranking(self, tid: int, query: str, allowed: set[int] | None) -> list[int]:
        vectors = self._thread_vectors(tid)
        if not len(vectors.rowids):
            return []
        query_vector = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        similarity = vectors.matrix @ query_vector
        keep = similarity >= MIN_SIMILARITY
        if allowed is not None:
            keep &= np.isin(vectors.rowids, np.fromiter(allowed, np.int64, len(allowed)))
        similarity = np.where(keep, similarity, -np.inf)
        depth = min(CANDIDATES, int(np.isfinite(similarity).sum()))
        if depth == 0:
            return []
        top = np.argpartition(-similarity, depth - 1)[:depth]
        top = top[np.argsort(-similarity[top])]
        return [int(vectors.rowids[i]) for i in top]

    def _page(
        self,
        ranked: list[tuple[int, float]],
        total: int,
        page: int,
        limit: int,
        *,
        offset_applied: bool,
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
        hits = [
            RecallHit(
                message_id=rows[r][1],
                role=rows[r][2],
                name=rows[r][3],
                timestamp=rows[r][4],
                text=rows[r][5],
                score=score,
            )
            for r, score in chosen
            if r in rows
        ]
        pages = max(1, -(-total // limit)) if limit else 1
        return RecallPage(hits=hits, total=total, page=page, pages=pages, limit=limit)


def date_bounds(start_date: str | None, end_date: str | None) -> tuple[str | None, str | None]:
    """Filter bounds from ISO dates; a bare end date includes that whole day."""
    start = _parse_bound(start_date, "start_date")
    end = _parse_bound(end_date, "end_date")
    if end is not None and end_date is not None and len(end_date.strip()) <= 10:
        end += timedelta(days=1)
    if start and end and start >= end:
        raise ValueError(f"start_date {start_date} is not before end_date {end_date}")
    return (
        start.isoformat(timespec="seconds") if start else None,
        end.isoformat(timespec="seconds") if end else None,
    )


def _parse_bound(value: str | None, name: str) -> datetime | None:
    if value is None or not str(value).strip():
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(
            f"{name} '{value}' is not an ISO date such as 2024-05-08 or 2024-05-08T14:30"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
