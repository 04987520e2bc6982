"""The storage-faults promise: read-only and full disks, corrupted files.

See storage_faults_promise.py for the experiment (it runs child processes, hence the
integration mark); the focused tests below run in process, in a second or two.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph_memgpt.checkpoints.history import read_log
from langgraph_memgpt.checkpoints.sqlite import (
    open_async_sqlite_checkpointer,
    open_sqlite_checkpointer,
)
from langgraph_memgpt.steps import drive
from langgraph_memgpt.storage import StorageError
from outcome import Outcome
from storage_faults_promise import THREAD, check, run_turn


@pytest.mark.integration
def test_storage_faults_promise(tmp_path: Path, record_property: Any) -> None:
    outcome: Outcome = check(tmp_path)

    print(outcome.figure)
    record_property("terminal_summary", f"{outcome.promise}: {outcome.figure}")
    assert outcome.kept, outcome.explain()


def test_a_corrupted_checkpoint_file_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    path.write_bytes(b"\x00garbage" * 4096)

    with pytest.raises(StorageError) as caught, open_sqlite_checkpointer(path):
        pass

    assert caught.value.problem == "corrupted" and str(path) in str(caught.value)
    assert "Fix:" in str(caught.value)


async def test_the_async_checkpointer_refuses_it_too(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    path.write_bytes(b"\x00garbage" * 4096)

    with pytest.raises(StorageError, match="not an SQLite database"):
        async with open_async_sqlite_checkpointer(path):
            pass


def test_recall_history_leaves_out_writes_whose_checkpoint_was_never_saved(
    tmp_path: Path,
) -> None:
    """A failed checkpoint save (full disk) can leave its step's writes behind: they are an
    unfinished turn, not part of the thread's history, until (unless) the checkpoint lands."""
    with open_sqlite_checkpointer(tmp_path / "checkpoints.sqlite") as saver:
        run_turn(saver, "Hello, I keep a lighthouse.")
        before = drive(read_log(saver, THREAD, {}))
        config = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}
        unsaved = {**config["configurable"], "checkpoint_id": "ffffffff-never-saved"}
        orphan = HumanMessage("half a turn", id="orphan-1")
        saver.put_writes({"configurable": unsaved}, [("messages", [orphan])], "task-1")

        after = drive(read_log(saver, THREAD, {}))
        again = drive(read_log(saver, THREAD, after.cursor))

    assert [m.id for m in after.messages] == [m.id for m in before.messages]
    assert "orphan-1" not in {m.id for m in again.messages}
    # The cursor waits before the unsaved write: it may still get its checkpoint.
    assert after.cursor["writes"] < saver_rowid_of_last_write(tmp_path)


def saver_rowid_of_last_write(tmp_path: Path) -> int:
    with closing(sqlite3.connect(tmp_path / "checkpoints.sqlite")) as db:
        return db.execute("SELECT max(rowid) FROM writes").fetchone()[0]
