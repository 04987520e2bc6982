"""The README's diagram is generated from the graph; keep it current."""

from pathlib import Path

from langgraph_memgpt import graph

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_mermaid_matches_the_graph() -> None:
    drawn = graph.get_graph().draw_mermaid()
    edges = [line.strip() for line in drawn.splitlines() if "-->" in line or "-.->" in line]
    text = README.read_text()
    for edge in edges:
        assert edge in text, f"README diagram is stale: missing {edge}"
