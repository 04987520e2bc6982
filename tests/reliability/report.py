"""Run every reliability promise and print one line per promise with its figure.

    python tests/reliability/report.py            # all promises
    python tests/reliability/report.py crash      # only some, by name

Ends with ``messages lost: N, cross-user leaks: M``; exits 1 if any promise was broken. The
same ``check`` functions run under pytest (tests/reliability/test_*.py), so CI proves what
this report prints.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "integration", HERE.parent / "support"):
    sys.path.insert(0, str(folder))

from outcome import Outcome  # noqa: E402

# promise name -> module with check(workdir) -> Outcome, in the order printed.
PROMISES = {
    "crash": "crash_promise",
    "model faults": "model_faults_promise",
    "concurrency": "concurrency_promise",
    "isolation": "isolation_promise",
    "hostile content": "hostile_content_promise",
    "storage faults": "storage_faults_promise",
}


def run(name: str, module_name: str, workdir: Path) -> Outcome:
    try:
        module = importlib.import_module(module_name)
        return module.check(workdir)
    except Exception:  # a promise that cannot even run is a broken promise, not a crash here
        return Outcome(name, "did not run", problems=[traceback.format_exc(limit=5)])


def main(argv: list[str]) -> int:
    chosen = {k: v for k, v in PROMISES.items() if not argv or k in argv or v in argv}
    if not chosen:
        print(f"unknown promise; choose from: {', '.join(PROMISES)}", file=sys.stderr)
        return 2
    outcomes: list[Outcome] = []
    width = max(len(name) for name in chosen)
    for name, module_name in chosen.items():
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"memgpt-{module_name}-") as folder:
            outcome = run(name, module_name, Path(folder))
        seconds = time.monotonic() - started
        mark = "kept  " if outcome.kept else "BROKEN"
        print(f"{mark} {name:<{width}}  {outcome.figure}  ({seconds:.0f} s)", flush=True)
        for problem in outcome.problems[:10]:
            print(f"       - {problem}", flush=True)
        outcomes.append(outcome)
    lost = sum(o.messages_lost for o in outcomes)
    leaks = sum(o.cross_user_leaks for o in outcomes)
    print(f"messages lost: {lost}, cross-user leaks: {leaks}")
    return 0 if all(o.kept for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
