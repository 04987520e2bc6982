"""One log line for a failure the agent already explains in one line.

When a model cannot answer (Ollama down, a model not pulled, the local engine unable to build
or start) the run fails with a :class:`~langgraph_memgpt.models.ModelUnavailableError` whose
message names the host, the model and the fix; a storage fault with a ``StorageError`` naming
the file. Under ``langgraph dev`` that one failure was logged four times with a 40-line
traceback each: by LangGraph's retry loop for every retried attempt and by langgraph-api's
worker twice. :func:`quiet_expected_failures` drops the tracebacks of these errors only (any
other exception keeps its traceback) and the worker's first report of the failure, so a failed
chat leaves one error line ("Background run failed. Exception: ...") after the retry lines.

The logger names are the modules that log (``logger = logging.getLogger(__name__)``); the
retry loop's is a private module of LangGraph, so both names live in ``_compat.py``, checked
by ``tests/unit/test_server_logs.py`` so a release that moves them fails loudly.
"""

from __future__ import annotations

import logging

from langgraph_memgpt._compat import RETRY_LOGGER, SERVER_WORKER_LOGGER
from langgraph_memgpt.models import ModelUnavailableError
from langgraph_memgpt.storage import StorageError

LOGGERS = (SERVER_WORKER_LOGGER, RETRY_LOGGER)
"""Where a failed run's traceback is logged: langgraph-api's run worker, LangGraph's retries."""
_EXPLAINED = (ModelUnavailableError, StorageError)
RUN_ERROR_EVENT = "Run encountered an error in graph"


def _explained_names() -> set[str]:
    names: set[str] = set()
    pending: list[type] = list(_EXPLAINED)
    while pending:
        cls = pending.pop()
        names.add(f"{cls.__module__}.{cls.__qualname__}")
        pending += cls.__subclasses__()
    return names


class DropExplainedTraceback(logging.Filter):
    """Keep the record, drop its traceback when the exception already explains itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        explained = isinstance(record.exc_info[1] if record.exc_info else None, _EXPLAINED)
        event = record.msg if isinstance(record.msg, dict) else None
        rendered = event.get("exception") if event is not None else None
        if isinstance(rendered, str):
            # structlog (langgraph-api) has rendered the traceback into the event already.
            names = _explained_names()
            lines = rendered.strip().splitlines()[-3:]
            explained = explained or any(line.split(":", 1)[0] in names for line in lines)
        if not explained:
            return True
        record.exc_info = None
        record.exc_text = None
        if event is not None:
            event.pop("exception", None)
            event.pop("exc_info", None)
            # The worker reports the failure twice (in the run, then as the run's outcome);
            # the outcome line says the same and stays.
            return not str(event.get("event", "")).startswith(RUN_ERROR_EVENT)
        return True


_installed = DropExplainedTraceback()


def quiet_expected_failures() -> None:
    """Install the filter on the loggers of a failed run (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _installed not in logger.filters:
            logger.addFilter(_installed)
