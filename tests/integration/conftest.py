"""Fixtures of the integration tests; the helpers themselves live in memgpt_integration.py."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from memgpt_integration import get_free_port
from ollama_double import OllamaDouble


@pytest.fixture
def free_port() -> int:
    return get_free_port()


@pytest.fixture
def dead_url() -> str:
    """The URL of a port on which nothing listens."""
    return f"http://127.0.0.1:{get_free_port()}"


@pytest.fixture
def make_double() -> Iterator[Callable[..., OllamaDouble]]:
    """Start Ollama doubles, stopped at teardown: ``make_double(script=[...], models=...)``."""
    started: list[OllamaDouble] = []

    def make(**kwargs: Any) -> OllamaDouble:
        double = OllamaDouble(**kwargs).start()
        started.append(double)
        return double

    yield make
    for double in started:
        double.stop()
