"""Crash promise: 20 SIGKILLs at chosen and random points, a new process resumes each time.

The experiment is ``crash_promise.check`` (also run by ``report.py``); the extra test kills a
process inside the write of a turn's input checkpoint, the window between the user message's
writes and the checkpoint that records them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from crash_promise import POINT_DEADLINE, Child, Ledger, check, verify_files
from outcome import Outcome

pytestmark = pytest.mark.integration


def test_twenty_sigkills_lose_nothing(tmp_path: Path, record_property: Any) -> None:
    outcome = check(tmp_path)
    print(outcome.figure)
    record_property("terminal_summary", f"{outcome.promise}: {outcome.figure}")
    assert outcome.kept, outcome.explain()
    assert outcome.figure.startswith("24 SIGKILLs (4 planted (first step async, inserted ")


def _run(child: Child, ledger: Ledger, **settings: object) -> None:
    assert child.wait_for("WARM", time.monotonic() + POINT_DEADLINE), child.stderr_tail()
    child.go(**settings)


def test_kill_inside_the_input_checkpoint_write(tmp_path: Path) -> None:
    # Hash embeddings: this test is about the checkpoint file only (see crash_child.py).
    ledger = Ledger()
    first = Child(tmp_path, 0, "hash")
    _run(first, ledger, kill=None, durability="async", turns=2)
    assert first.wait_for("DONE", time.monotonic() + POINT_DEADLINE), first.stderr_tail()
    first.finish()
    ledger.read(first)

    victim = Child(tmp_path, 1, "hash")
    _run(victim, ledger, kill="input:1", durability="async", turns=0)
    assert victim.wait_for("AT input", time.monotonic() + POINT_DEADLINE), victim.stderr_tail()
    victim.sigkill()
    in_flight, _ = ledger.read(victim)
    assert in_flight == 3

    after = Child(tmp_path, 2, "hash")
    _run(after, ledger, kill=None, durability="async", turns=3)
    assert after.wait_for("DONE", time.monotonic() + POINT_DEADLINE), after.stderr_tail()
    after.finish()
    ledger.read(after)

    assert 3 in ledger.acked, "the interrupted turn was not completed by the next process"
    assert not ledger.unanswered
    outcome = Outcome("crash")
    verify_files(tmp_path, ledger, outcome)
    assert outcome.kept, outcome.explain()


def test_consolidation_killed_mid_run_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    """The consolidate graph, SIGKILLed inside a chunk's model call and then inside the store
    writes that apply a chunk's saved answer, resumed by a new process: every user turn ends
    up as exactly one fact and one entity, and the cursor is clean."""
    from crash_child import THREAD_USER, words
    from langgraph_memgpt.archival.store import SqliteVecStore

    ledger = Ledger()
    turns = Child(tmp_path, 0, "hash")
    _run(turns, ledger, kill=None, durability="async", turns=12)
    assert turns.wait_for("DONE", time.monotonic() + POINT_DEADLINE), turns.stderr_tail()
    turns.finish()

    for index, point in enumerate(("extract:2", "write:4"), start=1):
        victim = Child(tmp_path, index, "hash")
        _run(victim, ledger, kill=point, consolidate=True)
        at = f"AT {point.split(':')[0]}"
        assert victim.wait_for(at, time.monotonic() + POINT_DEADLINE), victim.stderr_tail()
        victim.sigkill()
    last = Child(tmp_path, 3, "hash")
    _run(last, ledger, kill=None, consolidate=True)
    line = last.wait_for("CONSOLIDATED", time.monotonic() + POINT_DEADLINE)
    assert line, last.stderr_tail()
    last.finish()
    report = json.loads(line.split(" ", 1)[1])
    # The chunk killed while being applied was applied again from its saved answer: what it
    # had written already was found, not written twice.
    assert report["notes"] == [] and report["duplicates"] >= 1, report

    store = SqliteVecStore(tmp_path / "archive.sqlite")
    try:
        facts = [
            item.value["content"]
            for item in store.search(("archival", THREAD_USER), limit=1000)
            if item.value.get("kind") == "fact"
        ]
        entities = store.search(("knowledge", THREAD_USER, "entities"), limit=1000)
        cursor = store.search(("consolidation", THREAD_USER), limit=10)
    finally:
        store.close()
    expected = [f"Turn {k} began with the word {words(k, 1)}." for k in range(1, 13)]
    assert sorted(facts) == sorted(expected), "each turn's fact once, none lost"
    assert sorted(e.key for e in entities) == sorted(f"turn-{k}" for k in range(1, 13))
    (record,) = cursor
    assert record.value.get("pending") is None and record.value.get("through") is None
