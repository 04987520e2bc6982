"""A real ``langgraph dev`` server on this repository's langgraph.json, for integration tests.

The server loads the graph, the persistence factories (checkpointer and archive on files in a
temp folder, through MEMGPT_CHECKPOINT_DB / MEMGPT_ARCHIVE_DB) and the HTTP API exactly as a
developer's ``langgraph dev`` would; its model calls go to an Ollama double in the test
process. It runs in the temp folder, so its own state (``.langgraph_api``: thread and run
records) stays there too, and it can be stopped and started again on the same files.
Each start costs seconds (it loads the embedding model): tests share one server per module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from memgpt_integration import REPO_ROOT, clean_env, get_free_port, stop_process
from ollama_double import OllamaDouble

STARTUP_TIMEOUT = 120
WINDOW = 4096


def platform_style_config(folder: Path) -> Path:
    """This langgraph.json without the checkpointer and store paths, as deployed on LangGraph
    Platform: the server's own persistence is used (in memory under langgraph dev)."""
    config = json.loads((REPO_ROOT / "langgraph.json").read_text())
    del config["checkpointer"], config["store"]
    config["dependencies"] = [str(REPO_ROOT)]
    target = folder / "langgraph.json"
    target.write_text(json.dumps(config, indent=2))
    return target


def langgraph_command() -> list[str]:
    script = Path(sys.executable).parent / "langgraph"
    if script.exists():
        return [str(script)]
    found = shutil.which("langgraph")
    if found:
        return [found]
    pytest.skip("the langgraph CLI (langgraph-cli[inmem]) is not installed")


@dataclass
class DevServer:
    """One ``langgraph dev`` process at a time, on a fixed port and fixed files."""

    workdir: Path
    double: OllamaDouble
    port: int = field(default_factory=get_free_port)
    window: int = WINDOW
    config: Path = REPO_ROOT / "langgraph.json"
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for the server, e.g. ``{"MEMGPT_API_KEYS": "key-a:alice"}``."""
    extra_args: list[str] = field(default_factory=list)
    """More ``langgraph dev`` options, e.g. ``["--n-jobs-per-worker", "8"]`` (it runs one run at
    a time without it)."""
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def checkpoint_db(self) -> Path:
        return self.workdir / "checkpoints.sqlite"

    @property
    def archive_db(self) -> Path:
        return self.workdir / "archive.sqlite"

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-8000:] if self.log.exists() else ""

    def start(self) -> DevServer:
        env = clean_env(
            MEMGPT_OLLAMA_BASE_URL=self.double.url,
            MEMGPT_CONTEXT_WINDOW=str(self.window),
            MEMGPT_CHECKPOINT_DB=str(self.checkpoint_db),
            MEMGPT_ARCHIVE_DB=str(self.archive_db),
            **self.env,
        )
        command = [
            *langgraph_command(),
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--config",
            str(self.config),
            *self.extra_args,
        ]
        with self.log.open("a") as sink:
            sink.write(f"\n===== langgraph dev started {time.strftime('%H:%M:%S')} =====\n")
            sink.flush()
            self.process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ok()
        return self

    def stop(self) -> None:
        """SIGTERM, so the server shuts down as a developer's Ctrl-C would."""
        if self.process is not None:
            stop_process(self.process, timeout=30)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_until_ok(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"langgraph dev exited with {self.process.returncode} before serving "
                    f"/ok:\n{self.output()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/ok", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        pytest.fail(
            f"langgraph dev did not answer GET /ok within {STARTUP_TIMEOUT}s:\n" + (self.output())
        )
