"""Crash promise: 20 SIGKILLs at chosen and random points, a new process resumes each time.

The experiment is ``crash_promise.check`` (also run by ``report.py``); the extra test kills a
process inside the write of a turn's input checkpoint, the window between the user message's
writes and the checkpoint that records them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from crash_promise import POINT_DEADLINE, Child, Ledger, check, verify_files
from outcome import Outcome

pytestmark = pytest.mark.integration


def test_twenty_sigkills_lose_nothing(tmp_path: Path) -> None:
    outcome = check(tmp_path)
    print(outcome.figure)
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
