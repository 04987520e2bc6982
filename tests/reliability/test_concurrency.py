"""The concurrency promise: 8 users at once on one checkpoint file and one archive.

See concurrency_promise.py for the experiment; this module asserts it held, plus a quick
in-process variant (fewer turns) that runs without a server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from concurrency_promise import Tally, check, run_in_process
from outcome import Outcome


@pytest.mark.parametrize("own_connections", [False, True], ids=["shared", "own-connections"])
def test_threads_share_one_checkpoint_file_and_one_archive(
    tmp_path: Path, own_connections: bool
) -> None:
    outcome = Outcome("concurrency (small)")

    tally: Tally = run_in_process(
        tmp_path, outcome, users=4, turns=4, own_connections=own_connections
    )

    assert outcome.kept, outcome.explain()
    assert tally.turns == 16 and tally.passages == 16, tally
    assert tally.lock_errors == tally.missing == tally.crossed == 0, tally


@pytest.mark.integration
def test_concurrency_promise(tmp_path: Path, record_property: Any) -> None:
    outcome = check(tmp_path)

    print(outcome.figure)
    record_property("terminal_summary", f"{outcome.promise}: {outcome.figure}")
    assert outcome.kept, outcome.explain()
