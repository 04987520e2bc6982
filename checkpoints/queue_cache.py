"""The queue each thread was last loaded with, so that the next load replays only new writes.

The queue is a DeltaChannel. On every load LangGraph's SQLite saver rebuilds it: it walks back
from the checkpoint to the last full snapshot (every ``SNAPSHOT_EVERY`` queue updates, about
45 turns), deserializing every checkpoint and every stored message on the way, and replays
them all through the reducer. Once the queue fills the window, that is most of what a turn
costs beyond LangGraph's own floor, and it grew from 10 to 1,000 turns
(``tests/benchmarks/turn_overhead.py``; cProfile put ``get_delta_channel_history`` and the
deserializing under it at half the growth).

A checkpoint never changes once written, so the queue a checkpoint rebuilds to is a fact about
its id. The saver keeps the last one per thread. A later checkpoint of the same thread is
rebuilt from it: the reducer is applied to it and to the writes stored at the checkpoints in
between, parent by parent, which is the order LangGraph replays them in (where one of those
checkpoints holds a snapshot, the queue restarts from the snapshot: LangGraph stores no
writes for a step it snapshots). The reducer is
deterministic (``graph/state.py``: stable ids), so this is the value LangGraph's own walk gives;
``tests/unit/test_queue_cache.py`` compares the two at every checkpoint of a conversation with
evictions, summaries, a fork and a second process writing.

The cache answers only when it can be sure; otherwise LangGraph's walk runs and its answer
refills the cache:
- a checkpoint that is not a descendant of the cached one (a fork, another thread) is walked;
- so is one more than ``MAX_HOPS`` checkpoints below it, or one whose writes hold an
  ``Overwrite`` (LangGraph's replay resets the base there).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import DeltaChannelHistory, writes_sort_key
from langgraph.types import Overwrite
from langgraph_memgpt._compat import delta_snapshot_value
from langgraph_memgpt.steps import Call, NodeSteps

Reducer = Callable[[Sequence[Any], Sequence[Any]], list[Any]]

MAX_HOPS = 64
"""Checkpoints walked up from a load to find the cached one (a turn writes one to a few)."""
MAX_THREADS = 256
"""Threads whose last queue is kept (each is at most one window's messages)."""

ANCESTORS_SQL = (
    # The walk stops at the cached checkpoint or after MAX_HOPS. Only the checkpoints in
    # between are read whole (a snapshot there resets the queue); usually there are none.
    "WITH RECURSIVE chain(checkpoint_id, parent_checkpoint_id, hops) AS ("
    "SELECT checkpoint_id, parent_checkpoint_id, 0 FROM checkpoints "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? "
    "UNION ALL "
    "SELECT c.checkpoint_id, c.parent_checkpoint_id, a.hops + 1 "
    "FROM chain a CROSS JOIN checkpoints c ON c.checkpoint_id = a.parent_checkpoint_id "
    "WHERE c.thread_id = ? AND c.checkpoint_ns = ? AND a.checkpoint_id != ? AND a.hops < ?"
    ") SELECT chain.checkpoint_id, c.type, "
    "CASE WHEN chain.hops > 0 AND chain.checkpoint_id != ? THEN c.checkpoint END "
    "FROM chain JOIN checkpoints c ON c.thread_id = ? AND c.checkpoint_ns = ? "
    "AND c.checkpoint_id = chain.checkpoint_id ORDER BY chain.hops"
)
LATEST_SQL = (
    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
    "ORDER BY checkpoint_id DESC LIMIT 1"
)


def writes_sql(count: int) -> str:
    return (
        "SELECT checkpoint_id, task_id, idx, type, value, task_path FROM writes "
        "WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? "
        f"AND checkpoint_id IN ({','.join('?' * count)})"
    )


@dataclass(frozen=True)
class Loaded:
    """The queues (one per cached channel) that one checkpoint rebuilt to."""

    checkpoint_id: str
    values: Mapping[str, list[Any]]


def between(chain: Sequence[str], start: str) -> list[str]:
    """Checkpoints whose writes lead from ``start`` to ``chain[0]``, oldest first.

    ``chain`` is the target followed by its ancestors, nearest first, ``start`` one of them.
    The writes stored at a checkpoint belong to its children, so they are those of ``start``
    and of every checkpoint after it up to the target's parent (the target's own writes are
    for its next step).
    """
    return list(reversed(chain[1 : chain.index(start) + 1]))


def nearest_stored(
    chain: Sequence[str], stored: Mapping[str, Mapping[str, Any]], channel: str
) -> tuple[str, Any] | None:
    """The checkpoint nearest the target that stores ``channel`` itself (a snapshot), and
    the value stored. LangGraph stores no writes for a step whose checkpoint snapshots the
    channel, so the queue restarts from that value there (its own walk stops at it too)."""
    for checkpoint_id in chain[1:]:
        values = stored.get(checkpoint_id) or {}
        if channel in values:
            return checkpoint_id, delta_snapshot_value(values[channel])
    return None


def ordered_values(rows: Sequence[tuple], order: Sequence[str], loads: Callable) -> list[Any]:
    """Write values (``rows`` from :func:`writes_sql`) in LangGraph's replay order: by
    checkpoint as in ``order``, then by ``writes_sort_key`` within a checkpoint."""
    position = {cid: i for i, cid in enumerate(order)}
    ranked = sorted(rows, key=lambda r: (position[r[0]], writes_sort_key(r[5] or "", r[1], r[2])))
    return [loads((r[3], r[4])) for r in ranked]


def rebuild(reducer: Reducer, base: Sequence[Any], values: Sequence[Any]) -> list[Any] | None:
    """``base`` with ``values`` applied, or ``None`` if one is an ``Overwrite`` (not cached)."""
    if any(isinstance(v, Overwrite) for v in values):
        return None
    return reducer(base, list(values)) if values else list(base)


def from_history(reducer: Reducer, history: DeltaChannelHistory) -> list[Any] | None:
    """The queue LangGraph's replay makes of ``history`` (None where it is not cacheable)."""
    seed = delta_snapshot_value(history["seed"]) if "seed" in history else []
    return rebuild(reducer, seed or [], [value for _, _, value in history["writes"]])


class QueueCache:
    """The last rebuilt queue of each thread, for the channels whose reducer it was given."""

    def __init__(self, reducers: Mapping[str, Reducer]) -> None:
        self.reducers = dict(reducers)
        self._loaded: OrderedDict[tuple[str, str], Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, thread: tuple[str, str]) -> Loaded | None:
        with self._lock:
            return self._loaded.get(thread)

    def keep(self, thread: tuple[str, str], loaded: Loaded) -> None:
        with self._lock:
            self._loaded[thread] = loaded
            self._loaded.move_to_end(thread)
            while len(self._loaded) > MAX_THREADS:
                self._loaded.popitem(last=False)

    def forget(self, thread_id: str) -> None:
        with self._lock:
            for key in [k for k in self._loaded if k[0] == thread_id]:
                del self._loaded[key]

    @staticmethod
    def answer(values: Mapping[str, list[Any]]) -> dict[str, DeltaChannelHistory]:
        """The rebuilt queues as LangGraph's history: each one a seed with nothing to replay
        (a plain seed value is taken as the channel's value). A copy of each list, so that
        the graph's changes never reach the cache."""
        return {ch: {"seed": list(value), "writes": []} for ch, value in values.items()}


def load_steps(
    cache: QueueCache,
    *,
    thread_id: str,
    checkpoint_ns: str,
    target: str | None,
    channels: Sequence[str],
    query: Callable[[str, tuple], Call],
    walk: Callable[[str], Call],
    loads: Callable[[tuple[str, bytes]], Any],
) -> NodeSteps[Mapping[str, DeltaChannelHistory]]:
    """The history of ``channels`` (all cached ones) at ``target``, from the cache if it can.

    ``query(sql, params)`` reads rows of the saver's tables; ``walk(checkpoint_id)`` is
    LangGraph's own ``get_delta_channel_history`` at that checkpoint (the fallback, whose
    answer refills the cache). Written once for the sync and the async saver (``steps.py``).
    """
    key = (thread_id, checkpoint_ns)
    if target is None:  # the thread's newest checkpoint, as the saver's get_tuple takes it
        rows = yield query(LATEST_SQL, key)
        if not rows:
            return {ch: {"writes": []} for ch in channels}
        target = str(rows[0][0])
    values: dict[str, list[Any]] | None = None
    loaded = cache.get(key)
    if loaded is not None and set(channels) <= loaded.values.keys():
        values = yield from _from_loaded(cache, loaded, key, target, channels, query, loads)
    if values is None:
        history = yield walk(target)
        rebuilt = {ch: from_history(cache.reducers[ch], history[ch]) for ch in channels}
        if any(value is None for value in rebuilt.values()):
            return history
        values = {ch: value for ch, value in rebuilt.items() if value is not None}
    cache.keep(key, Loaded(target, values))
    return cache.answer(values)


def _from_loaded(
    cache: QueueCache,
    loaded: Loaded,
    key: tuple[str, str],
    target: str,
    channels: Sequence[str],
    query: Callable[[str, tuple], Call],
    loads: Callable[[tuple[str, bytes]], Any],
) -> NodeSteps[dict[str, list[Any]] | None]:
    cached = loaded.checkpoint_id
    if cached == target:
        return {ch: loaded.values[ch] for ch in channels}
    rows = yield query(ANCESTORS_SQL, (*key, target, *key, cached, MAX_HOPS, cached, *key))
    chain = [str(r[0]) for r in rows]
    if cached not in chain:
        return None
    chain = chain[: chain.index(cached) + 1]
    stored = {str(r[0]): loads((r[1], r[2])).get("channel_values") or {} for r in rows if r[2]}
    values = {}
    for ch in channels:
        start, base = nearest_stored(chain, stored, ch) or (cached, loaded.values[ch])
        order = between(chain, start)
        writes = yield query(writes_sql(len(order)), (*key, ch, *order))
        value = rebuild(cache.reducers[ch], base, ordered_values(writes, order, loads))
        if value is None:
            return None
        values[ch] = value
    return values
