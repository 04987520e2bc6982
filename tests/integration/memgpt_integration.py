"""Helpers of the integration tests: free ports, a realistic Ollama double, subprocesses.

Imported by the test modules (``tests/integration`` is put on ``sys.path`` by its conftest).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def get_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment for a subprocess: no inherited MEMGPT_* / tracing settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MEMGPT_", "LANGSMITH_", "LANGCHAIN_")) and key != "OLLAMA_HOST"
    }
    env.update(
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """End a process started with ``start_new_session=True`` and its children, by its id."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass
