"""Recall storage: every message a thread ever had, read back from its checkpoints.

The queue is a DeltaChannel, so each message is stored once as a checkpoint *write* (plus, now
and then, inside a full snapshot of the queue in a checkpoint; the first ``update_state`` of a
thread also stores its messages inline). The log below reads both, incrementally from a
cursor, so each row is read once however long the thread is; no second copy of the
conversation is kept anywhere.

How the search reaches the checkpointer that is actually running the graph: LangGraph puts it
in the run's config under ``CONFIG_KEY_CHECKPOINTER`` (the same object it saves checkpoints
with), whether it is ours, one passed to ``compile``, or the one ``langgraph dev`` / LangGraph
Platform injects. SQLite and PostgreSQL savers (LangGraph's, or subclasses of them such as
ours) are read with SQL on their tables; any other saver through ``list()``.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import BaseMessage, RemoveMessage, convert_to_messages
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph_memgpt._compat import (
    CONFIG_KEY_CHECKPOINTER,
    delta_snapshot_value,
    postgres_cursor,
    unwrap_server_checkpointer,
)
from langgraph_memgpt.graph.state import message_timestamp
from langgraph_memgpt.steps import Call, NodeSteps

QUEUE_CHANNEL = "messages"


def running_checkpointer(config: RunnableConfig | None) -> BaseCheckpointSaver | None:
    """The checkpointer of the graph run that ``config`` belongs to.

    Under ``langgraph dev`` / LangGraph Platform with a custom checkpointer (langgraph.json),
    the server hands the graph a new adapter around it on every run; the saver inside is the
    one whose tables and recall index file are read (one index, not one per run)."""
    saver = ((config or {}).get("configurable") or {}).get(CONFIG_KEY_CHECKPOINTER)
    return unwrap_server_checkpointer(saver)


SaverKind = Literal["sqlite", "async_sqlite", "postgres", "async_postgres", "other"]


def saver_kind(saver: object) -> SaverKind:
    """Which of LangGraph's savers ``saver`` is (subclasses included), by type: the SQL
    readers below know their tables, and the sync ones can only be read synchronously.

    The PostgreSQL savers come with an optional extra (``langgraph-checkpoint-postgres``,
    psycopg). They are not imported here, which would load psycopg for every other saver or
    fail without it: an instance of them can only exist once their module has been loaded.
    """
    if isinstance(saver, AsyncSqliteSaver):
        return "async_sqlite"
    if isinstance(saver, SqliteSaver):
        return "sqlite"
    postgres = _loaded_class("langgraph.checkpoint.postgres", "PostgresSaver")
    if postgres is not None and isinstance(saver, postgres):
        return "postgres"
    async_postgres = _loaded_class("langgraph.checkpoint.postgres.aio", "AsyncPostgresSaver")
    if async_postgres is not None and isinstance(saver, async_postgres):
        return "async_postgres"
    return "other"


def _loaded_class(module: str, name: str) -> type | None:
    cls = getattr(sys.modules.get(module), name, None)
    return cls if isinstance(cls, type) else None


@dataclass
class LogBatch:
    """Messages read since the cursor (one entry per message id), and the new cursor."""

    messages: list[BaseMessage] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)


def merge_versions(found: dict[str, BaseMessage], messages: Iterable[Any]) -> None:
    """Keep one version per message id: the longest text (the original of a message that was
    cut to fit the window), with the first timestamp any version carries."""
    for message in convert_to_messages([m for m in messages if not isinstance(m, RemoveMessage)]):
        if message.id is None or isinstance(message, RemoveMessage):
            continue  # raw caller input; its stamped copy (with the id) follows in the log
        current = found.get(message.id)
        if current is None:
            found[message.id] = message
            continue
        stamp = message_timestamp(current) or message_timestamp(message)
        keep = message if len(str(message.content)) > len(str(current.content)) else current
        if stamp and not message_timestamp(keep):
            keep = keep.model_copy(
                update={"additional_kwargs": {**keep.additional_kwargs, "timestamp": stamp}}
            )
        found[message.id] = keep


def _queue_value(value: Any) -> list[Any]:
    value = delta_snapshot_value(value)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def source_key(checkpointer: BaseCheckpointSaver) -> NodeSteps[str]:
    """A stable name for where a checkpointer keeps its data (keys the search index)."""
    kind = saver_kind(checkpointer)
    if kind == "sqlite":
        row = checkpointer.conn.execute("PRAGMA database_list").fetchone()
        return f"sqlite:{row[2] or id(checkpointer)}"
    if kind == "async_sqlite":
        rows = yield Call(
            run=_no_sync("AsyncSqliteSaver"),
            arun=lambda: _aquery(checkpointer.conn, "PRAGMA database_list"),
        )
        return f"sqlite:{rows[0][2] or id(checkpointer)}"
    if kind in ("postgres", "async_postgres"):
        info = _pg_connection_info(checkpointer)
        return f"postgres:{info}"
    return f"process:{id(checkpointer)}"


def read_log(
    checkpointer: BaseCheckpointSaver, thread_id: str, cursor: dict[str, Any]
) -> NodeSteps[LogBatch]:
    """Messages of ``thread_id`` recorded since ``cursor``."""
    kind = saver_kind(checkpointer)
    if kind in ("sqlite", "async_sqlite"):
        return (yield from _read_sqlite(checkpointer, thread_id, cursor))
    if kind in ("postgres", "async_postgres"):
        return (yield from _read_postgres(checkpointer, thread_id, cursor))
    return (yield from _read_generic(checkpointer, thread_id, cursor))


# -- SQLite -------------------------------------------------------------------------------

# Rows carry their checkpoint id (ids grow with time) to be put in order: the rowid is no
# order, since the saver re-puts a write with INSERT OR REPLACE, which gives it a new rowid.
#
# A write belongs to the step after its checkpoint. If saving that checkpoint failed (a full
# disk, a read-only file: LangGraph saves checkpoints in the background and fails the run at
# the end) the step's writes may be stored anyway, referring to a checkpoint that does not
# exist: an unfinished turn, which the thread's state does not show either. ``saved`` marks
# the writes whose checkpoint exists (a primary-key lookup each). Writes on a checkpoint that
# does exist can be stale too (see ``replayed_writes``), so they wait for its child.
_SQLITE_WRITES = (
    "SELECT w.rowid, w.type, w.value, w.checkpoint_id, w.task_id, w.idx, EXISTS (SELECT 1 FROM "
    "checkpoints c WHERE c.thread_id = w.thread_id AND c.checkpoint_ns = '' "
    "AND c.checkpoint_id = w.checkpoint_id) FROM writes w WHERE w.thread_id = ? "
    "AND w.checkpoint_ns = '' AND w.channel = ? AND w.rowid > ?"
)
_SQLITE_NEWEST = (
    "SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
)
_SQLITE_CHECKPOINTS = (
    "SELECT rowid, type, checkpoint, checkpoint_id, parent_checkpoint_id FROM checkpoints "
    "WHERE thread_id = ? AND checkpoint_ns = '' AND rowid > ?"
)


# LangGraph's primary keys do not cover "this thread's rows after rowid N", so without these
# every incremental read would scan the thread's whole history. SQLite appends the rowid to
# every index entry, which makes the range scan direct. Adding indexes to the saver's tables
# changes nothing for LangGraph.
_SQLITE_LOG_INDEXES = (
    "CREATE INDEX IF NOT EXISTS memgpt_writes_by_channel "
    "ON writes (thread_id, checkpoint_ns, channel)",
    "CREATE INDEX IF NOT EXISTS memgpt_checkpoints_by_thread "
    "ON checkpoints (thread_id, checkpoint_ns)",
)
_indexed_connections: set[int] = set()


def _ensure_sqlite_indexes(saver: Any, is_async: bool) -> Call | None:
    if id(saver.conn) in _indexed_connections:
        return None
    _indexed_connections.add(id(saver.conn))

    def run() -> None:
        with saver.lock:
            for statement in _SQLITE_LOG_INDEXES:
                saver.conn.execute(statement)
            saver.conn.commit()

    async def arun() -> None:
        for statement in _SQLITE_LOG_INDEXES:
            await saver.conn.execute(statement)
        await saver.conn.commit()

    return (
        Call(run=_no_sync("AsyncSqliteSaver"), arun=arun)
        if is_async
        else Call(run=run, arun=_no_async)
    )


def _read_sqlite(saver: Any, thread_id: str, cursor: dict[str, Any]) -> NodeSteps[LogBatch]:
    writes_after = int(cursor.get("writes", 0))
    checkpoints_after = int(cursor.get("checkpoints", 0))
    is_async = saver_kind(saver) == "async_sqlite"
    if (create_indexes := _ensure_sqlite_indexes(saver, is_async)) is not None:
        yield create_indexes

    def query(sql: str, params: tuple) -> Call:
        if is_async:
            return Call(
                run=_no_sync("AsyncSqliteSaver"), arun=lambda: _aquery(saver.conn, sql, params)
            )
        return Call(run=lambda: _query(saver, sql, params), arun=_no_async)

    # The newest checkpoint is read before the writes: a write whose checkpoint is missing
    # but newer than it may still see its checkpoint saved (the run is going on), so the
    # cursor stops before it and it is read again next time; one older than the newest
    # checkpoint never will be (checkpoints are saved in order): it is skipped for good.
    newest_rows = yield query(_SQLITE_NEWEST, (thread_id,))
    newest = (newest_rows[0][0] if newest_rows else None) or ""
    all_write_rows = yield query(_SQLITE_WRITES, (thread_id, QUEUE_CHANNEL, writes_after))
    checkpoint_rows = yield query(_SQLITE_CHECKPOINTS, (thread_id, checkpoints_after))
    snapshots = {
        r[3]: (r[4], saver.serde.loads_typed((r[1], r[2]))["channel_values"].get(QUEUE_CHANNEL))
        for r in checkpoint_rows
    }
    replayed = replayed_writes(
        {cid: (parent, value is not None) for cid, (parent, value) in snapshots.items()}, newest
    )
    write_rows = [r for r in all_write_rows if r[6] and replayed(r[3])]
    pending = [
        r[0]
        for r in all_write_rows
        if (r[6] and replayed(r[3]) is None) or (not r[6] and r[3] > newest)
    ]
    writes_cursor = max([writes_after, *(r[0] for r in all_write_rows)])
    if pending:
        writes_cursor = min(pending) - 1
    # Oldest first, each checkpoint's queue snapshot (if it holds one) before the writes made
    # after it, as the graph saw them. A snapshot (every SNAPSHOT_EVERY queue updates) holds
    # the messages of the step that made it, which no write holds; read before all writes, it
    # would put the whole window ahead of older, already evicted messages.
    events: list[tuple[str, int, str, int, Any]] = [
        (cid, 0, "", 0, value) for cid, (_, value) in snapshots.items() if value is not None
    ]
    events += [(r[3], 1, r[4], r[5], (r[1], r[2])) for r in write_rows]
    events.sort(key=lambda event: event[:4])
    found: dict[str, BaseMessage] = {}
    for _, is_write, _, _, value in events:
        if is_write:
            value = saver.serde.loads_typed(value)
        merge_versions(found, _queue_value(value))
    return LogBatch(
        messages=list(found.values()),
        cursor={
            "writes": writes_cursor,
            "checkpoints": max([checkpoints_after, *(r[0] for r in checkpoint_rows)]),
        },
    )


def replayed_writes(
    checkpoints: dict[str, tuple[str | None, bool]], newest: str
) -> Callable[[str], bool | None]:
    """Which checkpoints' queue writes belong to the thread's history.

    ``checkpoints`` maps the checkpoints read in this batch to ``(parent id, holds a queue
    snapshot)``. Writes stored on a checkpoint are replayed by LangGraph into its children
    that hold no snapshot of the queue; a child that holds one was made from the queue as
    the run saw it, and shadows the writes. That is how LangGraph keeps out *stale* writes:
    a run killed after storing its writes but before its next checkpoint landed (with
    ``durability="exit"`` every write of the turn is stored on the checkpoint it started
    from, the final checkpoint last) leaves writes no state ever contained; the next run from
    that checkpoint snapshots the queue instead of replaying them. So, per checkpoint:

    - a child without a snapshot: its writes are replayed, they belong (True);
    - children, all with snapshots: the writes are stale, or already in the snapshots (False);
    - no child yet and it is the newest checkpoint: undecided until its child is saved (None;
      the reader reads them again next time);
    - no child read in this batch, older than the newest: the child was read before (True).
    """
    children: dict[str, list[bool]] = {}
    for parent, snapshot in checkpoints.values():
        if parent:
            children.setdefault(parent, []).append(snapshot)

    def decide(checkpoint_id: str) -> bool | None:
        kids = children.get(checkpoint_id)
        if kids:
            return not all(kids)
        return None if checkpoint_id >= newest else True

    return decide


def _query(saver: Any, sql: str, params: tuple = ()) -> list[tuple]:
    # SqliteSaver serializes use of its connection with this lock.
    with saver.lock:
        return saver.conn.execute(sql, params).fetchall()


async def _aquery(conn: Any, sql: str, params: tuple = ()) -> list[tuple]:
    async with conn.execute(sql, params) as cur:
        return list(await cur.fetchall())


def _no_sync(kind: str):
    def fail() -> Any:
        raise RuntimeError(f"{kind} can only be read from an async run (ainvoke/astream)")

    return fail


async def _no_async() -> Any:
    raise RuntimeError("a synchronous checkpointer cannot be read from this async path")


# -- PostgreSQL ---------------------------------------------------------------------------

_PG_WRITES = (
    "SELECT checkpoint_id, task_id, idx, type, blob FROM checkpoint_writes WHERE thread_id = %s "
    "AND checkpoint_ns = '' AND channel = %s AND checkpoint_id >= %s"
)
# The new checkpoints, and the children of those whose writes are read again (from the writes
# cursor on): without them, writes already found stale would count as replayed the next time.
_PG_VERSIONS = (
    "SELECT checkpoint_id, parent_checkpoint_id, checkpoint -> 'channel_versions' ->> %s AS "
    "version, (checkpoint -> 'channel_values') ? %s AS snapshot FROM checkpoints "
    "WHERE thread_id = %s AND checkpoint_ns = '' AND (checkpoint_id > %s "
    "OR parent_checkpoint_id >= %s)"
)
_PG_NEWEST = (
    "SELECT max(checkpoint_id) AS newest FROM checkpoints WHERE thread_id = %s "
    "AND checkpoint_ns = ''"
)
_PG_BLOBS = (
    "SELECT version, type, blob FROM checkpoint_blobs WHERE thread_id = %s "
    "AND checkpoint_ns = '' AND channel = %s AND version > %s ORDER BY version"
)


def _pg_connection_info(saver: Any) -> str:
    conn = saver.conn
    info = getattr(conn, "info", None)
    if info is None and hasattr(conn, "conninfo"):  # a pool
        return str(conn.conninfo)
    return f"{info.host}:{info.port}/{info.dbname}" if info is not None else str(id(saver))


def _read_postgres(saver: Any, thread_id: str, cursor: dict[str, Any]) -> NodeSteps[LogBatch]:
    # Writes are re-read from the newest checkpoint already seen: more may have been added to
    # it since. Versions of a message merge by id, so reading a row twice is harmless.
    after_checkpoint = str(cursor.get("checkpoint", ""))
    after_version = str(cursor.get("version", ""))
    versions_after = str(cursor.get("versions", ""))

    def sync_rows(sql: str, params: tuple) -> list[Any]:
        with postgres_cursor(saver) as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    async def async_rows(sql: str, params: tuple) -> list[Any]:
        async with postgres_cursor(saver) as cur:
            await cur.execute(sql, params)
            return list(await cur.fetchall())

    is_async = saver_kind(saver) == "async_postgres"

    def query(sql: str, params: tuple) -> Call:
        if is_async:
            return Call(run=_no_sync("AsyncPostgresSaver"), arun=lambda: async_rows(sql, params))
        return Call(run=lambda: sync_rows(sql, params), arun=_no_async)

    newest_rows = yield query(_PG_NEWEST, (thread_id,))
    newest = (newest_rows[0]["newest"] if newest_rows else None) or ""
    all_write_rows = yield query(_PG_WRITES, (thread_id, QUEUE_CHANNEL, after_checkpoint))
    blob_rows = yield query(_PG_BLOBS, (thread_id, QUEUE_CHANNEL, after_version))
    version_rows = yield query(
        _PG_VERSIONS, (QUEUE_CHANNEL, QUEUE_CHANNEL, thread_id, versions_after, after_checkpoint)
    )
    replayed = replayed_writes(
        {
            r["checkpoint_id"]: (r["parent_checkpoint_id"], bool(r["snapshot"]))
            for r in version_rows
        },
        newest,
    )
    write_rows = [r for r in all_write_rows if replayed(r["checkpoint_id"])]
    undecided = [r["checkpoint_id"] for r in all_write_rows if replayed(r["checkpoint_id"]) is None]
    # In order as for SQLite: a queue snapshot (a blob) at the first checkpoint that holds its
    # version, before the writes made after that checkpoint.
    made_at: dict[str, str] = {}
    for row in sorted(version_rows, key=lambda r: r["checkpoint_id"]):
        made_at.setdefault(row["version"], row["checkpoint_id"])
    events = [
        (made_at.get(r["version"], "\uffff"), 0, "", 0, r["type"], r["blob"])
        for r in blob_rows
        if r["type"] != "empty"
    ]
    events += [
        (r["checkpoint_id"], 1, r["task_id"], r["idx"], r["type"], r["blob"]) for r in write_rows
    ]
    events.sort(key=lambda event: event[:4])
    found: dict[str, BaseMessage] = {}
    for *_, type_, blob in events:
        merge_versions(found, _queue_value(saver.serde.loads_typed((type_, blob))))
    return LogBatch(
        messages=list(found.values()),
        cursor={
            # Writes are read from this checkpoint on (>=): the undecided ones come back.
            "checkpoint": min(undecided)
            if undecided
            else max([after_checkpoint, *(r["checkpoint_id"] for r in all_write_rows)]),
            "version": max([after_version, *(r["version"] for r in blob_rows)]),
            "versions": max([versions_after, *(r["checkpoint_id"] for r in version_rows)]),
        },
    )


# -- any other saver ----------------------------------------------------------------------


def _read_generic(saver: Any, thread_id: str, cursor: dict[str, Any]) -> NodeSteps[LogBatch]:
    """Through ``list()``: every checkpoint is listed, but only new ones are unpacked."""
    seen = set(cursor.get("seen", []))
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}

    async def alist() -> list[Any]:
        return [t async for t in saver.alist(config)]

    tuples = yield Call(run=lambda: list(saver.list(config)), arun=alist)
    found: dict[str, BaseMessage] = {}
    newest = tuples[0].config["configurable"]["checkpoint_id"] if tuples else ""
    replayed = replayed_writes(
        {
            tup.config["configurable"]["checkpoint_id"]: (
                (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id"),
                QUEUE_CHANNEL in tup.checkpoint["channel_values"],
            )
            for tup in tuples
        },
        newest,
    )
    for tup in reversed(tuples):  # list() is newest first; the log is read oldest first
        checkpoint_id = tup.config["configurable"]["checkpoint_id"]
        if checkpoint_id in seen:
            continue
        merge_versions(found, _queue_value(tup.checkpoint["channel_values"].get(QUEUE_CHANNEL)))
        decided = replayed(checkpoint_id)
        if decided is None:
            continue  # no child yet: its writes are read (or dropped) once it has one
        if decided:
            for _, channel, value in tup.pending_writes or []:
                if channel == QUEUE_CHANNEL:
                    merge_versions(found, _queue_value(value))
        seen.add(checkpoint_id)
    return LogBatch(messages=list(found.values()), cursor={"seen": sorted(seen)})


__all__ = [
    "LogBatch",
    "merge_versions",
    "read_log",
    "running_checkpointer",
    "saver_kind",
    "source_key",
    "sqlite3",
]
