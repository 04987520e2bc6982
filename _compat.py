"""Every private name of LangGraph and langgraph-api this package relies on, in one place.

LangGraph keeps some things we need out of its public API (a node with separate sync and
async functions, the run's checkpointer, a DeltaChannel's snapshot, the Postgres savers'
cursor), and langgraph-api has no public way to reach the store and checkpointer it gives
graph runs. Such names can change in any release, so no other module touches them: they use
the functions and constants below, and ``tests/unit/test_compat.py`` fails with a message
naming the internal and what to do when an installed version no longer has one.

Each item says why we need it and what it was checked against (the versions in
:data:`CHECKED_AGAINST`). langgraph-api is only installed with the server (``langgraph dev``
/ LangGraph Platform) and the postgres saver with the ``postgres`` extra, so both are
imported when used, never here.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.runnables import Runnable
from langgraph._internal._constants import CONFIG_KEY_CHECKPOINTER
from langgraph._internal._runnable import RunnableCallable
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.store.base import BaseStore, MatchCondition
from langgraph.store.memory import _compare_values, _does_match

CHECKED_AGAINST = {
    "langgraph": "1.2.24",
    "langgraph-checkpoint": "4.3.2",
    "langgraph-checkpoint-sqlite": "3.1.2",
    "langgraph-checkpoint-postgres": "3.2.0",
    "langgraph-api": "0.16.7",
}
"""The versions every internal below was last checked against."""

__all__ = [
    "CHECKED_AGAINST",
    "CONFIG_KEY_CHECKPOINTER",
    "RETRY_LOGGER",
    "SERVER_WORKER_LOGGER",
    "api_server_checkpointer",
    "api_server_store",
    "delta_snapshot_value",
    "filter_matches",
    "is_delta_snapshot",
    "is_exit_delta_write",
    "namespace_matches",
    "node_runnable",
    "postgres_cursor",
    "run_executor_key",
    "unwrap_server_checkpointer",
]

# CONFIG_KEY_CHECKPOINTER (langgraph 1.2.24: "__pregel_checkpointer"), re-exported above: the
# key under ``config["configurable"]`` where LangGraph puts the checkpointer a run saves
# with. Recall reads its log from that very saver, whoever supplied it (``compile``, our
# CLI, the server).

RETRY_LOGGER = "langgraph.pregel._retry"
"""The logger of LangGraph's retry loop (langgraph 1.2.24: ``logging.getLogger(__name__)`` in
that private module), which logs every retried attempt of a failed model call with its
traceback; ``server/logs.py`` filters it."""

SERVER_WORKER_LOGGER = "langgraph_api.worker"
"""The logger of langgraph-api's run worker (0.16.7: ``get_logger(__name__)``), which logs a
failed run's traceback twice; ``server/logs.py`` filters it."""


def node_runnable(
    func: Callable[..., Any], afunc: Callable[..., Awaitable[Any]]
) -> Runnable[Any, Any]:
    """A graph node that runs ``func`` in sync runs and ``afunc`` in async ones, named after
    ``func`` (the node's name in traces, as ``add_node`` would name it).

    Checked against langgraph 1.2.24: ``langgraph._internal._runnable.RunnableCallable(func,
    afunc, *, name=...)``. LangGraph's public ``add_node`` takes one function, and would run a
    sync one in a worker thread under ainvoke (or fail an async one under invoke); our nodes
    do their I/O natively on each path (see ``steps.py``)."""
    return RunnableCallable(func, afunc, name=getattr(func, "__name__", None))


def delta_snapshot_value(value: Any) -> Any:
    """``value`` itself, or the channel value inside it when it is a DeltaChannel snapshot.

    Checked against langgraph-checkpoint 4.3.2: a DeltaChannel (the message queue) stores a
    full copy of itself every so often as a ``_DeltaSnapshot`` NamedTuple whose ``.value`` is
    the channel's value; the recall log reads those rows straight from the saver's tables."""
    return value.value if isinstance(value, _DeltaSnapshot) else value


def is_delta_snapshot(value: Any) -> bool:
    """Whether a checkpoint's channel value is a DeltaChannel's snapshot (see above), which
    LangGraph's savers find by reading it in the checkpoint row itself."""
    return isinstance(value, _DeltaSnapshot)


def is_exit_delta_write(task_id: str, anchor_step: int | None) -> bool:
    """Whether a ``put_writes`` call carries a run's DeltaChannel writes stored at its exit
    (``durability="exit"``), which LangGraph follows at once with the checkpoint they lead to.
    ``anchor_step`` is the step of the checkpoint the writes are stored on, where known.

    Checked against langgraph 1.2.24 (``langgraph.pregel._loop._put_exit_delta_writes``): those
    calls use synthetic task ids, ``ffffffff-...`` for a superstep after the run's first
    (``exit_delta_late_task_id``) and, for the run's first superstep, the real task id with its
    first group replaced by that step in 8 digits (``exit_delta_task_id``): two steps after the
    stored checkpoint's (one is the input's). A real task id (random hex) starts so with odds
    of about one in 10^9; a missed one is only stored at once, as before. The sync saver keeps
    these writes for the checkpoint's transaction (``checkpoints/sqlite.py``)."""
    if task_id.startswith("ffffffff-"):
        return True
    return anchor_step is not None and task_id.startswith(
        (f"{anchor_step + 1:08d}-", f"{anchor_step + 2:08d}-")
    )


def run_executor_key() -> str | None:
    """Which run's background executor the calling thread works for (None: not a worker).

    Checked against langgraph 1.2.24 and langchain-core 1.x: a sync run submits its checkpoint
    puts and writes to a ``BackgroundExecutor`` of its own, a new ``ThreadPoolExecutor``
    (``get_executor_for_config``) whose worker threads are named ``<prefix>_<n>`` with a prefix
    unique to that executor. The sync saver uses it to tell one run's exit writes from those
    of a run that never put its checkpoint."""
    prefix, _, number = threading.current_thread().name.rpartition("_")
    return prefix if prefix.startswith("ThreadPoolExecutor-") and number.isdigit() else None


def unwrap_server_checkpointer(saver: Any) -> Any:
    """The checkpointer inside langgraph-api's adapter, or ``saver`` when it is none.

    Checked against langgraph-api 0.16.7: with a custom checkpointer (langgraph.json's
    ``checkpointer.path``, ours under ``langgraph dev``) the server wraps it in a new
    ``_CustomCheckpointerAdapter`` for every run and call, keeping it in ``_inner``. The recall
    log reads SQLite and PostgreSQL savers with SQL on their own connection, and its index is
    keyed by the saver, so it needs the saver itself (one index, not one per run)."""
    # The type check keeps an unrelated ``_inner`` attribute from being taken for the saver.
    inner = getattr(saver, "_inner", None)
    return inner if isinstance(inner, BaseCheckpointSaver) else saver


def postgres_cursor(saver: Any) -> Any:
    """A cursor on a (sync or async) Postgres saver's connection, as its own methods use it.

    Checked against langgraph-checkpoint-postgres 3.2.0: ``PostgresSaver._cursor()`` is a
    context manager, ``AsyncPostgresSaver._cursor()`` an async one, yielding a dict-row cursor
    on the saver's connection or pool (with the saver's lock held for a single connection).
    The recall log runs its own SELECTs on the saver's tables through it."""
    return saver._cursor()


async def api_server_store() -> BaseStore | None:
    """The store the LangGraph server gives graph runs; None without langgraph-api.

    Checked against langgraph-api 0.16.7: ``langgraph_api.store.get_store()``; the server has
    no public way to reach it, and archival search and counts need the object. Only the
    import is guarded: an error of the server's own look-up propagates."""
    try:
        from langgraph_api.store import get_store
    except ImportError:
        return None
    return await get_store()


async def api_server_checkpointer() -> Any | None:
    """The checkpointer the LangGraph server gives graph runs (maybe wrapped: see
    :func:`unwrap_server_checkpointer`); None without langgraph-api.

    Checked against langgraph-api 0.16.7: ``langgraph_api._checkpointer.get_checkpointer()``,
    a private module; ``/status``, the HTTP API's recall and a stateless consolidation run
    (``nodes/consolidate.py``) need the object. Only the import
    is guarded, as for the store."""
    try:
        from langgraph_api._checkpointer import get_checkpointer
    except ImportError:
        return None
    return await get_checkpointer()


def filter_matches(value: dict[str, Any], conditions: dict[str, Any]) -> bool:
    """Whether a stored value passes a ``search(filter=...)``, exactly as ``InMemoryStore``
    decides (equality, and operators such as ``$eq``, ``$ne``, ``$gt``, ``$in``).

    Checked against langgraph 1.2.24: ``langgraph.store.memory._compare_values(item_value,
    filter_value)``. Our archive stores must filter as LangGraph's own stores do (the shared
    store tests compare them), and LangGraph has no public function for it."""
    return all(_compare_values(value.get(key), wanted) for key, wanted in conditions.items())


def namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """Whether ``namespace`` passes a ``list_namespaces`` prefix/suffix condition (with ``*``
    wildcards), as ``InMemoryStore`` decides.

    Checked against langgraph 1.2.24: ``langgraph.store.memory._does_match(match_condition,
    key)``, private for the same reason as :func:`filter_matches`."""
    return _does_match(condition, namespace)
