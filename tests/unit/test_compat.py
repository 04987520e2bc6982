"""The LangGraph and langgraph-api internals ``_compat.py`` relies on are still there.

Each test names the internal, the version it was checked against and what to do when a
release changes it, so an upgrade that breaks one fails here, loudly, rather than as a
wrong recall search or a 500 in some later run.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph_memgpt import _compat
from langgraph_memgpt.checkpoints.history import running_checkpointer, saver_kind
from langgraph_memgpt.checkpoints.sqlite import (
    open_async_sqlite_checkpointer,
    open_sqlite_checkpointer,
)
from langgraph_memgpt.graph.state import queue_reducer
from langgraph_memgpt.memory.status import is_sync_only_saver
from typing_extensions import TypedDict


def fix(internal: str, package: str, what: str) -> str:
    """The failure message: which internal changed, against what it was checked, what to do."""
    return (
        f"{internal} changed or is gone in the installed {package} (checked against "
        f"{package} {_compat.CHECKED_AGAINST[package]}). {what} Then update _compat.py "
        "(and CHECKED_AGAINST) and this test."
    )


def _import(module: str, package: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.fail(fix(module, package, what) + f" ({error})")


def test_runnable_callable_takes_a_sync_and_an_async_function() -> None:
    module = _import(
        "langgraph._internal._runnable",
        "langgraph",
        "Find where RunnableCallable (a node with separate sync and async functions) moved.",
    )
    runnable_callable = getattr(module, "RunnableCallable", None)
    message = fix(
        "langgraph._internal._runnable.RunnableCallable(func, afunc, *, name=...)",
        "langgraph",
        "node_runnable needs a node that runs func under invoke and afunc under ainvoke.",
    )
    assert runnable_callable is not None, message
    parameters = inspect.signature(runnable_callable).parameters
    assert list(parameters)[:2] == ["func", "afunc"] and "name" in parameters, message

    def sync_path(value: int) -> str:
        return f"sync {value}"

    async def async_path(value: int) -> str:
        return f"async {value}"

    node = _compat.node_runnable(sync_path, async_path)
    assert node.name == "sync_path", message
    assert node.invoke(1) == "sync 1", message
    assert asyncio.run(node.ainvoke(2)) == "async 2", message


class _State(TypedDict):
    seen: bool


def test_the_run_config_carries_the_checkpointer_under_config_key_checkpointer() -> None:
    module = _import(
        "langgraph._internal._constants",
        "langgraph",
        "Find where CONFIG_KEY_CHECKPOINTER is defined now.",
    )
    message = fix(
        "langgraph._internal._constants.CONFIG_KEY_CHECKPOINTER",
        "langgraph",
        "Recall finds the saver a run writes to under this key of config['configurable']; "
        "find the key (or API) that holds it now.",
    )
    assert getattr(module, "CONFIG_KEY_CHECKPOINTER", None) == "__pregel_checkpointer", message
    assert _compat.CONFIG_KEY_CHECKPOINTER == "__pregel_checkpointer", message

    saver = InMemorySaver()
    found: list[Any] = []

    def node(state: _State, config: RunnableConfig) -> dict[str, bool]:
        found.append(running_checkpointer(config))
        return {"seen": True}

    builder = StateGraph(_State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile(checkpointer=saver)
    graph.invoke({"seen": False}, {"configurable": {"thread_id": "t"}})
    assert found == [saver], message


class _Queue(TypedDict):
    messages: Annotated[list, DeltaChannel(queue_reducer)]


def test_exit_writes_come_from_the_runs_executor_with_synthetic_task_ids() -> None:
    """The sync saver holds a run's exit writes for its checkpoint's transaction
    (``checkpoints/sqlite.py``, ``HeldWrites``): it must recognise every such call, and tell
    one run's from another's."""
    message = fix(
        "langgraph.pregel._loop._put_exit_delta_writes (its synthetic task ids, "
        "exit_delta_task_id / exit_delta_late_task_id) or the run's own BackgroundExecutor",
        "langgraph",
        "Exit writes would then be stored one commit each (slower, still correct), or writes "
        "of a run that never put its checkpoint could be stored with the next run's; find how "
        "exit writes are named and which executor submits them now.",
    )

    class Recording(InMemorySaver):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple[str, str, int | None, str | None]] = []
            self.steps: dict[str, int] = {}

        def get_tuple(self, config: RunnableConfig) -> Any:
            loaded = super().get_tuple(config)
            if loaded is not None:
                self.steps[loaded.config["configurable"]["checkpoint_id"]] = loaded.metadata["step"]
            return loaded

        def put(self, config: RunnableConfig, checkpoint: Any, metadata: Any, versions: Any) -> Any:
            self.calls.append(("put", "", None, _compat.run_executor_key()))
            saved = super().put(config, checkpoint, metadata, versions)
            self.steps[checkpoint["id"]] = metadata["step"]
            return saved

        def put_writes(
            self, config: RunnableConfig, writes: Any, task_id: str, path: str = ""
        ) -> None:
            anchor = self.steps.get(config["configurable"]["checkpoint_id"])
            self.calls.append(("writes", task_id, anchor, _compat.run_executor_key()))
            super().put_writes(config, writes, task_id, path)

    builder = StateGraph(_Queue)
    builder.add_node("a", lambda s: {"messages": [AIMessage(content="a")]})
    builder.add_node("b", lambda s: {"messages": [AIMessage(content="b")]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    saver = Recording()
    graph = builder.compile(checkpointer=saver)
    runs = []
    for turn in range(3):
        saver.calls.clear()
        graph.invoke(
            {"messages": [HumanMessage(content=str(turn))]},
            {"configurable": {"thread_id": "t"}},
            durability="exit",
        )
        runs.append(list(saver.calls))
    for calls in runs[1:]:  # the first run of a thread also puts an empty checkpoint first
        writes = [c for c in calls if c[0] == "writes"]
        assert len(writes) == 3 and calls[-1][0] == "put", (calls, message)
        assert all(_compat.is_exit_delta_write(task, anchor) for _, task, anchor, _ in writes), (
            calls,
            message,
        )
        assert len({c[3] for c in calls}) == 1 and calls[0][3] is not None, (calls, message)
    assert runs[1][0][3] != runs[2][0][3], message
    assert not _compat.is_exit_delta_write("1f1ef46a-5ddf-6b51-800a-3227c4d627c4", 12), message


def test_delta_snapshot_has_value() -> None:
    module = _import(
        "langgraph.checkpoint.serde.types",
        "langgraph-checkpoint",
        "Find where _DeltaSnapshot (a DeltaChannel's stored full copy) is defined now.",
    )
    snapshot_type = getattr(module, "_DeltaSnapshot", None)
    message = fix(
        "langgraph.checkpoint.serde.types._DeltaSnapshot(value)",
        "langgraph-checkpoint",
        "The recall log unpacks the message queue's snapshots from .value; the SQLite savers "
        "keep them in the checkpoint row (checkpoints/channel_blobs.py).",
    )
    assert snapshot_type is not None and "value" in snapshot_type._fields, message
    assert _compat.delta_snapshot_value(snapshot_type(["a"])) == ["a"], message
    assert _compat.delta_snapshot_value(["b"]) == ["b"], message
    assert _compat.is_delta_snapshot(snapshot_type(["a"])), message
    assert not _compat.is_delta_snapshot(["b"]), message


def test_postgres_savers_have_a_cursor() -> None:
    sync_module = pytest.importorskip("langgraph.checkpoint.postgres")
    async_module = pytest.importorskip("langgraph.checkpoint.postgres.aio")
    for saver_type in (sync_module.PostgresSaver, async_module.AsyncPostgresSaver):
        message = fix(
            f"{saver_type.__name__}._cursor()",
            "langgraph-checkpoint-postgres",
            "The recall log runs its SELECTs through it (postgres_cursor); find how the "
            "saver opens a cursor on its connection now.",
        )
        cursor = getattr(saver_type, "_cursor", None)
        assert callable(cursor), message
        inspect.signature(cursor).bind(object())  # called without arguments
        # An instance without a connection: only its type matters to saver_kind.
        kind = saver_kind(saver_type.__new__(saver_type))
        assert kind == ("postgres" if saver_type is sync_module.PostgresSaver else "async_postgres")


def test_the_retry_loop_logs_under_its_module_name() -> None:
    spec = importlib.util.find_spec(_compat.RETRY_LOGGER)
    message = fix(
        f"the logger {_compat.RETRY_LOGGER!r}",
        "langgraph",
        "server/logs.py drops the tracebacks of explained failures that LangGraph's retry loop "
        "logs; find the module that logs 'Retrying task' now.",
    )
    assert spec is not None and spec.origin, message
    assert "getLogger(__name__)" in Path(spec.origin).read_text(), message


# Importing langgraph-api needs a server's configuration (it reads it at import time): the
# checks run in a child process with the environment `langgraph dev` sets, and our
# checkpointer as langgraph.json configures it.
_SERVER_ENV = {
    "DATABASE_URI": ":memory:",
    "REDIS_URI": "fake",
    "MIGRATIONS_PATH": "__inmem",
    "LANGGRAPH_RUNTIME_EDITION": "inmem",
    "LANGSMITH_LANGGRAPH_API_VARIANT": "local_dev",
    "LANGGRAPH_CHECKPOINTER": json.dumps(
        json.loads((Path(_compat.__file__).parent / "langgraph.json").read_text())["checkpointer"]
    ),
}
_SERVER_PROBE = """
import asyncio, inspect, json
from langgraph_memgpt import _compat
from langgraph_memgpt.checkpoints.history import saver_kind

facts = {}
import langgraph_api.store as store
import langgraph_api._checkpointer as checkpointer
facts["get_store"] = inspect.iscoroutinefunction(getattr(store, "get_store", None))
get_checkpointer = getattr(checkpointer, "get_checkpointer", None)
facts["get_checkpointer"] = inspect.iscoroutinefunction(get_checkpointer)

async def main():
    await checkpointer.start_checkpointer()  # loads LANGGRAPH_CHECKPOINTER, as the server does
    try:
        given = await _compat.api_server_checkpointer()
        facts["adapter"] = type(given).__qualname__
        facts["unwrapped"] = saver_kind(_compat.unwrap_server_checkpointer(given))
    finally:
        await checkpointer.exit_checkpointer()

asyncio.run(main())
print(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def server_facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if importlib.util.find_spec("langgraph_api") is None:
        pytest.skip("langgraph-api is not installed (pip install 'langgraph-cli[inmem]')")
    folder = tmp_path_factory.mktemp("langgraph-api")
    result = subprocess.run(
        [sys.executable, "-c", _SERVER_PROBE],
        cwd=folder,
        env={**os.environ, **_SERVER_ENV, "MEMGPT_CHECKPOINT_DB": str(folder / "c.sqlite")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, fix(
        "langgraph_api.store / langgraph_api._checkpointer",
        "langgraph-api",
        "Importing them or starting a custom checkpointer failed in a server-like process; "
        f"read its error:\n{result.stderr[-3000:]}",
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_langgraph_api_hands_out_its_store_and_checkpointer(server_facts: dict[str, Any]) -> None:
    assert server_facts["get_store"], fix(
        "langgraph_api.store.get_store()",
        "langgraph-api",
        "Archival memory and /status use the server's store object; find how to get it now.",
    )
    assert server_facts["get_checkpointer"], fix(
        "langgraph_api._checkpointer.get_checkpointer()",
        "langgraph-api",
        "/status and the HTTP API's recall use the server's checkpointer; find how to get it.",
    )


def test_langgraph_api_keeps_a_custom_checkpointer_in_inner(server_facts: dict[str, Any]) -> None:
    assert server_facts["unwrapped"] == "async_sqlite", fix(
        f"the adapter around a custom checkpointer ({server_facts['adapter']}._inner)",
        "langgraph-api",
        "Recall reads our SQLite saver's tables with SQL, so unwrap_server_checkpointer must "
        "find the saver inside the adapter: grep the adapter class in langgraph_api for the "
        "attribute that holds it now.",
    )


def test_savers_are_dispatched_by_type(tmp_path: Path) -> None:
    # Ours subclass LangGraph's SQLite savers under other names: the SQL readers still apply.
    with open_sqlite_checkpointer(tmp_path / "sync.sqlite") as saver:
        assert saver_kind(saver) == "sqlite"
        assert is_sync_only_saver(saver)

    async def async_kind() -> str:
        async with open_async_sqlite_checkpointer(tmp_path / "async.sqlite") as saver:
            return saver_kind(saver)

    assert asyncio.run(async_kind()) == "async_sqlite"
    assert saver_kind(InMemorySaver()) == "other"
    assert saver_kind(None) == "other"
    assert not is_sync_only_saver(InMemorySaver())


def test_store_filters_match_as_in_memory_store_does() -> None:
    module = _import(
        "langgraph.store.memory",
        "langgraph",
        "InMemoryStore's module moved.",
    )
    for name in ("_compare_values", "_does_match"):
        assert callable(getattr(module, name, None)), fix(
            f"langgraph.store.memory.{name}",
            "langgraph",
            "Our archive stores filter search results and namespaces with InMemoryStore's "
            "own rules: find where they went.",
        )
    assert _compat.filter_matches({"tag": "a", "n": 3}, {"tag": "a", "n": {"$gt": 2}})
    assert not _compat.filter_matches({"tag": "a"}, {"tag": {"$ne": "a"}})
    from langgraph.store.base import MatchCondition

    assert _compat.namespace_matches(MatchCondition("prefix", ("archival", "*")), ("archival", "x"))
    assert not _compat.namespace_matches(MatchCondition("suffix", ("y",)), ("archival", "x"))


PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def test_no_private_framework_name_outside_compat() -> None:
    """The import-linter contract (``make lint``) keeps ``langgraph._internal`` and
    ``langgraph_api`` modules in ``_compat.py``; a private *name* of a public LangGraph module
    (``from langgraph.x import _name``) is invisible to it, so it is checked here."""
    import ast

    offenders = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        relative = path.relative_to(PACKAGE_ROOT)
        if relative.parts[0].startswith((".", "tests", "build")) or relative.name == "_compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("langgraph"):
                if node.module.startswith("langgraph_memgpt"):
                    continue
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private or "._" in f".{node.module}":
                    offenders.append(f"{relative}:{node.lineno} {node.module} {private}")
    assert not offenders, "private LangGraph names outside _compat.py:\n" + "\n".join(offenders)
