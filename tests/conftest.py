"""Shared test set-up: make tests/support importable (the suite runs in importlib mode), and
print the figures tests record (``record_property("terminal_summary", ...)``) after the run."""

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent / "support"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures tests recorded as ``terminal_summary`` properties: the engine-free
    prompt-cache check, and each reliability promise's figure (what ran, what was skipped and
    what held). They are worth seeing in CI logs, and ``-q`` hides what tests print.
    """
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == "terminal_summary":
                    terminalreporter.write_line(str(value))
