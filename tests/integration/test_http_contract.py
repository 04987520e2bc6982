"""The HTTP API's OpenAPI contract, checked by schemathesis against a real ``langgraph dev``.

The server publishes one OpenAPI document (``/openapi.json``) for its own routes and ours; the
test keeps our routes (those of ``server/app.py``, each with exactly the methods it serves),
and runs the schemathesis CLI on them with every check it has: no 5xx, only declared status
codes, content types and response schemas, schema-valid requests accepted, schema-invalid ones
refused, missing required headers refused, and a 405 with an ``Allow`` header for a method a
route does not serve. All nine routes are in, the model-calling ones too (``POST /chat``,
``POST /v1/chat/completions``, ``POST /memory/consolidate``): their model is the Ollama double
of the other integration tests, which answers at once.

Bounded: ``MAX_EXAMPLES`` generated requests an operation in the fuzzing phase, besides the
examples and coverage phases. Not the same requests every run: even in schemathesis's
deterministic mode (a derandomized Hypothesis, no example database) the coverage and fuzzing
phases draw different values from run to run (two runs here part at the 25th request), so the
API must keep its contract for any request, not for one fixed set. The rules that JSON Schema
cannot state are kept by ``http_contract_hooks.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dev_server import DevServer
from langgraph_memgpt.server.app import routes
from memgpt_integration import clean_env
from ollama_double import OllamaDouble

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 25
"""Fuzzing-phase requests per operation (the coverage phase adds its own, a fixed set)."""
MIN_CASES = 300
"""Fewer requests than this means schemathesis skipped something (it sent 560 here)."""
HERE = Path(__file__).parent
PHASES = "examples,coverage,fuzzing"  # stateful: no OpenAPI links between these routes


def our_operations() -> dict[str, set[str]]:
    """{path: methods} of the routes ``server/app.py`` serves (HEAD comes with GET)."""
    return {route.path: {m.lower() for m in route.methods or ()} - {"head"} for route in routes}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    double = OllamaDouble().start()  # echo responder: "You said: <newest user message>"
    dev = DevServer(workdir=tmp_path_factory.mktemp("http-contract"), double=double)
    try:
        yield dev.start()
    finally:
        dev.stop()
        double.stop()


def our_document(server: DevServer) -> dict[str, Any]:
    """The server's OpenAPI document with only our routes, checked to hold all of them."""
    document = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    ours = our_operations()
    paths = {path: document["paths"].get(path, {}) for path in ours}
    assert {path: set(item) for path, item in paths.items()} == ours, paths
    return {key: value for key, value in document.items() if key != "paths"} | {"paths": paths}


def run_schemathesis(server: DevServer, schema: Path, folder: Path) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        str(schema),
        "--url",
        server.url,
        "--checks",
        "all",
        "--phases",
        PHASES,
        "--generation-deterministic",
        # Hypothesis's health checks judge the data generator, not the API: too_slow is a
        # timer (this machine's 2 cores are often busy), and filter_too_much trips on the chat
        # completion body. Contract failures are what this test is for.
        "--suppress-health-check",
        "too_slow,filter_too_much",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-color",
        "--report",
        "junit,har",
        "--report-junit-path",
        str(folder / "junit.xml"),
        "--report-har-path",
        str(folder / "requests.har"),
    ]
    env = clean_env(
        SCHEMATHESIS_HOOKS="http_contract_hooks",
        # As on CI, where Hypothesis loads its "ci" profile (the hooks module undoes that).
        CI="true",
        PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    )
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_our_routes_keep_their_openapi_contract(server: DevServer, tmp_path: Path) -> None:
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(our_document(server)))

    started = time.monotonic()
    result = run_schemathesis(server, schema, tmp_path)
    elapsed = time.monotonic() - started

    report = ElementTree.parse(tmp_path / "junit.xml").getroot()
    entries = json.loads((tmp_path / "requests.har").read_text())["log"]["entries"]
    calls = Counter((entry["request"]["method"], entry["response"]["status"]) for entry in entries)
    print(
        f"\nschemathesis: {len(entries)} requests to {report.get('tests')} operations in "
        f"{elapsed:.1f} s, "
        f"checks all, phases {PHASES}, max examples {MAX_EXAMPLES}, deterministic"
    )
    print(
        "  by method and status: "
        + ", ".join(f"{m} {s}: {n}" for (m, s), n in sorted(calls.items()))
    )
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-4000:]
    assert report.get("failures") == "0" and report.get("errors") == "0", summary
    assert int(report.get("tests", 0)) == sum(len(m) for m in our_operations().values()), summary
    assert len(entries) >= MIN_CASES, summary
    # Each of the checks had something to check: served requests, refusals and 405s.
    statuses = {status for _, status in calls}
    assert {200, 201, 400, 405} <= statuses, calls
    assert not [status for status in statuses if status >= 500], calls
