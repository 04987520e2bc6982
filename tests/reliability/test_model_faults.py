"""Model faults: bounded retry, one clear line, a usable thread (see model_faults_promise)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_memgpt import Context, ModelUnavailableError, build_graph
from langgraph_memgpt.models import ModelCallFailedError, model_timeout
from model_faults_promise import MODEL, check
from ollama_double import Answer, OllamaDouble, send_message

pytestmark = pytest.mark.integration


@pytest.fixture
def double() -> Iterator[OllamaDouble]:
    with OllamaDouble(models=(MODEL,)) as started:
        yield started


@pytest.fixture(autouse=True)
def _short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MEMGPT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MEMGPT_MODEL_TIMEOUT", "1")


def turn(graph, double: OllamaDouble, text: str, thread: str = "t") -> dict:
    ctx = Context(model=f"ollama:{MODEL}", ollama_base_url=double.url, context_window=32768)
    return graph.invoke(
        {"messages": [{"role": "user", "content": text}]},
        {"configurable": {"thread_id": thread}},
        context=ctx,
    )


def test_model_faults_promise(tmp_path: Path, record_property: Any) -> None:
    outcome = check(tmp_path)
    print(outcome.figure)
    record_property("terminal_summary", f"{outcome.promise}: {outcome.figure}")
    assert outcome.kept, outcome.explain()


def test_ollama_tool_call_parse_error_is_answered_not_retried(double: OllamaDouble) -> None:
    """Ollama's HTTP 500 "error parsing tool call" is the model's fault: no transport retry."""
    double.script = [
        Answer(status=500, error='error parsing tool call: raw=\'{"label": "hu\''),
        send_message("Fixed it."),
    ]
    result = turn(build_graph(checkpointer=InMemorySaver()), double, "remember me")
    errors = [m for m in result["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    assert len(errors) == 1 and "not valid JSON" in errors[0].content
    assert len(double.chat_requests()) == 2


def test_retry_can_be_turned_off(double: OllamaDouble) -> None:
    double.script = [Answer(status=503)]
    graph = build_graph(checkpointer=InMemorySaver(), model_retry=None)
    with pytest.raises(ModelCallFailedError) as raised:
        turn(graph, double, "hello")
    assert "HTTP 503" in str(raised.value) and "attempt 1 of 1 failed" in str(raised.value)
    assert len(double.chat_requests()) == 1


def test_missing_model_is_not_retried(double: OllamaDouble) -> None:
    double.models = ("other:1b",)
    with pytest.raises(ModelUnavailableError) as raised:
        turn(build_graph(checkpointer=InMemorySaver()), double, "hello")
    assert not isinstance(raised.value, ModelCallFailedError)
    assert len(double.chat_requests()) == 1


def test_timeout_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMGPT_MODEL_TIMEOUT", "2.5")
    assert model_timeout() == 2.5
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv("MEMGPT_MODEL_TIMEOUT", bad)
        with pytest.raises(ValueError, match="MEMGPT_MODEL_TIMEOUT must be a positive number"):
            model_timeout()
