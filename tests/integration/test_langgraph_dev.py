"""``langgraph dev`` serves the agent from langgraph.json; the SDK runs it against the double.

One server for the module: it loads ``langgraph_memgpt.graph:graph`` as LangGraph Studio and
the Platform would, and its model calls go to an Ollama double running in this process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client
from memgpt_integration import REPO_ROOT, clean_env, get_free_port, stop_process
from ollama_double import Answer, OllamaDouble, send_message

pytestmark = pytest.mark.integration

STARTUP_TIMEOUT = 90
WINDOW = 4096


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
    url: str
    double: OllamaDouble
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-8000:]


def wait_until_ok(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"langgraph dev exited with {process.returncode} before serving /ok:\n"
                + log.read_text(errors="replace")[-8000:]
            )
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(
        f"langgraph dev did not answer GET /ok within {STARTUP_TIMEOUT}s:\n"
        + log.read_text(errors="replace")[-8000:]
    )


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    # langgraph dev keeps its in-memory state in ./.langgraph_api (cwd-relative); remove it
    # afterwards unless it was there already (a developer's own dev server state).
    state_dir = REPO_ROOT / ".langgraph_api"
    had_state_dir = state_dir.exists()
    log = tmp_path_factory.mktemp("langgraph-dev") / "server.log"
    port = get_free_port()
    url = f"http://127.0.0.1:{port}"
    double = OllamaDouble().start()  # default echo responder
    env = clean_env(
        MEMGPT_OLLAMA_BASE_URL=double.url,
        MEMGPT_CONTEXT_WINDOW=str(WINDOW),
    )
    command = [
        *langgraph_command(),
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(REPO_ROOT / "langgraph.json"),
    ]
    process = None
    try:
        with log.open("w") as sink:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_ok(url, process, log)
        yield DevServer(url=url, double=double, log=log)
    finally:
        if process is not None:
            stop_process(process)
        double.stop()
        if not had_state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_assistant_memgpt_is_registered(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)

    assistants = await client.assistants.search(graph_id="memgpt")

    assert [a["graph_id"] for a in assistants] == ["memgpt"], dev_server.output()


async def test_run_wait_updates_the_thread_state(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()
    before = len(dev_server.double.chat_requests())

    result = await client.runs.wait(thread["thread_id"], "memgpt", input=user("hello there"))

    assert isinstance(result, dict) and "__error__" not in result, (result, dev_server.output())
    state = await client.threads.get_state(thread["thread_id"])
    values = state["values"]
    assert {"persona", "human"} <= set(values["blocks"]), values.keys()
    assert values["budget"]["context_window"] == WINDOW
    replies = [
        call["args"]["message"]
        for message in values["messages"]
        if message["type"] == "ai"
        for call in message.get("tool_calls") or []
        if call["name"] == "send_message"
    ]
    assert replies == ["You said: hello there"], dev_server.output()

    # The server's model calls went to the double, configured from the MEMGPT_* environment.
    requests = dev_server.double.chat_requests()[before:]
    assert len(requests) == 1
    assert requests[0]["options"]["num_ctx"] == WINDOW
    assert requests[0]["messages"][-1] == {"role": "user", "content": "hello there"}


async def test_run_stream_updates_name_the_graph_nodes(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()

    nodes: list[str] = []
    async for part in client.runs.stream(
        thread["thread_id"], "memgpt", input=user("stream please"), stream_mode=["updates"]
    ):
        assert part.event != "error", (part.data, dev_server.output())
        if part.event == "updates":
            nodes.extend(part.data)

    assert nodes == ["check_memory_pressure", "reason", "execute_tools"], dev_server.output()


async def test_conversation_search_reaches_the_servers_checkpointer(dev_server: DevServer) -> None:
    """Under langgraph dev the server injects its own checkpointer; recall search reads it."""
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()
    await client.runs.wait(
        thread["thread_id"], "memgpt", input=user("My sister Alice moved to Lisbon.")
    )
    dev_server.double.script.extend(
        [
            Answer(
                tool_calls=[
                    {
                        "name": "conversation_search",
                        "arguments": {"query": "sister", "request_heartbeat": True},
                    }
                ]
            ),
            send_message("She lives in Lisbon."),
        ]
    )

    await client.runs.wait(thread["thread_id"], "memgpt", input=user("Where is my sister?"))

    state = await client.threads.get_state(thread["thread_id"])
    results = [
        m
        for m in state["values"]["messages"]
        if m["type"] == "tool" and m.get("name") == "conversation_search"
    ]
    assert results, dev_server.output()
    assert "My sister Alice moved to Lisbon." in results[-1]["content"], dev_server.output()
    assert "Showing" in results[-1]["content"]
