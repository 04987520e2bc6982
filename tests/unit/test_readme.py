"""The README stays true: its diagram is the graph's, and every name it imports exists."""

import importlib
import re
from pathlib import Path

import pytest
from langgraph_memgpt import graph
from langgraph_memgpt.graph.consolidate import graph as consolidate_graph

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("compiled", [graph, consolidate_graph], ids=["memgpt", "consolidate"])
def test_readme_mermaid_matches_the_graph(compiled: object) -> None:
    drawn = compiled.get_graph().draw_mermaid()
    edges = [line.strip() for line in drawn.splitlines() if "-->" in line or "-.->" in line]
    text = README.read_text()
    for edge in edges:
        assert edge in text, f"README diagram is stale: missing {edge}"


def _resolve(dotted: str) -> object:
    """The object ``a.b.c`` names: the longest importable module prefix, then attributes."""
    parts = dotted.replace(":", ".").split(".")
    for split in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


def test_every_name_the_readme_imports_exists() -> None:
    """The public API: each ``from langgraph_memgpt... import x`` in the README and each
    ``langgraph_memgpt.module[.name]`` it mentions resolves; a move changes the README too."""
    text = README.read_text()
    names = set()
    for module, imported in re.findall(r"from (langgraph_memgpt[\w.]*) import ([\w, ]+)", text):
        names |= {f"{module}.{name.strip()}" for name in imported.split(",") if name.strip()}
    names |= set(re.findall(r"langgraph_memgpt(?:\.\w+)+(?::\w+)?", text))
    assert len(names) >= 10, names
    missing = []
    for dotted in sorted(names):
        try:
            _resolve(dotted)
        except (ImportError, AttributeError) as error:
            missing.append(f"{dotted}: {error}")
    assert not missing, "README names what the package no longer has:\n" + "\n".join(missing)


def test_the_benchmark_tables_are_the_figures_files() -> None:
    """Every figures block of the README is what ``tests/benchmarks/figures.json`` (written by
    ``make bench``) renders to: a figure edited by hand, or a run not rendered, fails here."""
    import json
    import sys

    sys.path.insert(0, str(README.parent / "tests" / "benchmarks"))
    try:
        from figures import BLOCK, FIGURES_FILE, fill
    finally:
        sys.path.pop(0)
    text = README.read_text()
    figures = json.loads(FIGURES_FILE.read_text())
    blocks = [match.group(2) for match in BLOCK.finditer(text)]
    assert blocks, "the README's Performance section has no figures blocks"
    assert set(blocks) <= figures.keys(), "a README block has no figures: run make bench"
    assert fill(text, figures) == text, (
        "README tables differ from tests/benchmarks/figures.json: "
        "run `python tests/benchmarks/figures.py`"
    )
