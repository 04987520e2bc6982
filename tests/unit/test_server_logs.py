"""A model failure that explains itself in one line is logged without its traceback."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

from langgraph_memgpt.models import ModelCallFailedError
from langgraph_memgpt.server.logs import LOGGERS, DropExplainedTraceback, quiet_expected_failures


def record(exc: BaseException, *, structlog_event: bool = False) -> logging.LogRecord:
    try:
        raise exc
    except type(exc):
        info = sys.exc_info()
    if structlog_event:
        rendered = "Traceback (most recent call last):\n  ...\n"
        rendered += f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}\n"
        rendered += "During task with name 'reason' and id '0'"
        message: object = {"event": "Run encountered an error in graph: ...", "exception": rendered}
        return logging.LogRecord("langgraph_api.worker", 40, "", 0, message, None, info)
    return logging.LogRecord("langgraph.pregel._retry", 20, "", 0, "Retrying task", None, info)


def test_the_loggers_are_the_modules_that_log_a_failed_run() -> None:
    # langgraph.pregel._retry is a private module: if LangGraph moves its retry loop, this
    # fails and LOGGERS in server/logs.py must follow it. (Read, not imported: importing
    # langgraph_api.worker needs a configured server.)
    for name in LOGGERS:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} is gone"
        source = Path(spec.origin).read_text()
        assert "get_logger(__name__)" in source or "getLogger(__name__)" in source, name


def test_explained_failures_lose_their_traceback_only() -> None:
    keep = DropExplainedTraceback()
    failed = record(ModelCallFailedError("cannot reach Ollama at http://x; attempt 3 of 3"))
    assert keep.filter(failed) and failed.exc_info is None
    worker = record(ModelCallFailedError("cannot reach Ollama"), structlog_event=True)
    assert not keep.filter(worker)  # the worker's first report: the outcome line says it
    other = record(ValueError("a bug"))
    assert keep.filter(other) and other.exc_info is not None
    other_event = record(ValueError("a bug"), structlog_event=True)
    other_event.msg["exception"] = other_event.msg["exception"].replace(
        "langgraph_memgpt.models.ModelCallFailedError", "builtins.ValueError"
    )
    assert keep.filter(other_event) and "exception" in other_event.msg


def test_installing_twice_adds_one_filter() -> None:
    quiet_expected_failures()
    quiet_expected_failures()
    for name in LOGGERS:
        assert (
            sum(isinstance(f, DropExplainedTraceback) for f in logging.getLogger(name).filters) == 1
        )
