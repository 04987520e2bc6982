"""The one file the README's benchmark figures come from, and the tables made from it.

A benchmark run with ``--figures FILE`` (``make bench`` passes it) records what it measured
under its own name in that JSON file: the command line, the date, the machine, its summary
lines (the ones it ends with) and one table. Nothing is pasted by hand: the README's tables
sit between ``<!-- figures: NAME -->`` and ``<!-- /figures -->`` and are written from the file:

    python tests/benchmarks/figures.py tests/benchmarks/figures.json README.md

``tests/unit/test_readme.py`` fails when a README table is not what the committed file makes,
so a figure cannot be edited in one place and not the other. A smoke run (``make test``) passes
no ``--figures`` and records nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FIGURES_FILE = Path(__file__).with_name("figures.json")
README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"(<!-- figures: (\S+) -->\n)(.*?)(<!-- /figures -->)", re.DOTALL)


def add_figures_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--figures FILE`` option every benchmark takes."""
    parser.add_argument(
        "--figures",
        type=Path,
        metavar="FILE",
        help="record the figures of this run in FILE (JSON; make bench: "
        "tests/benchmarks/figures.json), which the README's tables are generated from",
    )


def machine() -> str:
    """What the figures were measured on, in the words the README uses."""
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def record(
    path: Path | None,
    name: str,
    *,
    summary: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    notes: Sequence[str] = (),
) -> None:
    """Store one benchmark's figures under ``name`` in ``path`` (nothing when ``path`` is None).

    Example:
        ```python
        record(args.figures, "archival_search", summary=[last_line],
               columns=["passages", "p50 ms"], rows=[[100_000, 1.7]])
        ```
    """
    if path is None:
        return
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[name] = {
        "command": shlex.join(["python", *_repo_relative(sys.argv)]),
        "measured": datetime.date.today().isoformat(),
        "machine": machine(),
        "summary": list(summary),
        "columns": list(columns),
        "rows": [[_cell(value) for value in row] for row in rows],
        "notes": list(notes),
    }
    path.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    print(f"figures recorded in {path} under {name!r}")


def _repo_relative(argv: Sequence[str]) -> list[str]:
    root = README.parent
    relative = []
    for argument in argv:
        candidate = Path(argument)
        if candidate.is_absolute() and candidate.resolve().is_relative_to(root):
            argument = str(candidate.resolve().relative_to(root))
        relative.append(argument)
    return relative


def _cell(value: Any) -> Any:
    """Numbers as the table shows them (thousands separated, two decimals for fractions)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def render(entry: dict[str, Any]) -> str:
    """One benchmark's block of the README: its table, summary lines, command and date."""
    lines = [
        "| " + " | ".join(entry["columns"]) + " |",
        "|" + "---|" * len(entry["columns"]),
        *("| " + " | ".join(row) + " |" for row in entry["rows"]),
        "",
        "```",
        *entry["summary"],
        "```",
        "",
        f"Printed by `{entry['command']}` on {entry['measured']} ({entry['machine']}).",
    ]
    for note in entry["notes"]:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def fill(readme: str, figures: dict[str, Any]) -> str:
    """``readme`` with every figures block rewritten from ``figures``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in figures:
            raise KeyError(f"README block {name!r} has no figures in the file (run make bench)")
        return match.group(1) + render(figures[name]) + match.group(4)

    return BLOCK.sub(replace, readme)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", type=Path, nargs="?", default=FIGURES_FILE)
    parser.add_argument("readme", type=Path, nargs="?", default=README)
    args = parser.parse_args(argv)
    figures = json.loads(args.figures.read_text())
    text = args.readme.read_text()
    filled = fill(text, figures)
    args.readme.write_text(filled)
    blocks = [m.group(2) for m in BLOCK.finditer(filled)]
    print(f"{args.readme}: {len(blocks)} figures blocks written ({', '.join(blocks)})")


if __name__ == "__main__":
    main()
