"""The ``langgraph-memgpt`` command: ``main`` parses, the other modules run a command each."""

from langgraph_memgpt.cli.main import main

__all__ = ["main"]
