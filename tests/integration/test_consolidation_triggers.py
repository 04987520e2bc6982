"""The consolidate graph from each trigger a user has: ``POST /memory/consolidate`` and a
LangGraph cron on a real ``langgraph dev`` server, and ``langgraph-memgpt consolidate`` in a
terminal. The model is the Ollama double: it answers a consolidation prompt as a model would
(one fact per user message, the places it names as entities) and echoes everything else.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dev_server import DevServer
from langgraph_memgpt.nodes.consolidate import EXTRACT_PROMPT
from langgraph_memgpt.server.backend import user_thread_id
from langgraph_sdk import get_client
from ollama_double import Answer, OllamaDouble, echo_responder
from test_cli import THREAD, chat, command, describe

pytestmark = pytest.mark.integration

LINE = re.compile(r"^\[(\d+)\] .*? user: (.*)$", re.MULTILINE)
PLACES = ("Lisbon", "Porto", "Madrid")
CRON_WAIT = 150
"""Seconds for a cron on '* * * * *' to fire (the next minute, then its run)."""


def consolidating_responder(request: dict[str, Any]) -> Answer:
    messages = request.get("messages") or []
    first = str(messages[0].get("content") or "") if messages else ""
    if first == EXTRACT_PROMPT:
        shown = str(messages[-1]["content"])
        facts, entities = [], []
        for number, text in LINE.findall(shown):
            facts.append({"fact": f"Fact: {text.strip()}", "from": [int(number)]})
            entities += [
                {"name": place, "type": "place", "about": text.strip(), "from": [int(number)]}
                for place in PLACES
                if place in text
            ]
        return Answer(content=json.dumps({"facts": facts, "entities": entities, "relations": []}))
    if "current, compact" in first:  # the profile, from the place the new facts name
        place = next((p for p in PLACES if p in first), None)
        return Answer(content=json.dumps({"human": f"Lives in {place}." if place else None}))
    return echo_responder(request)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    double = OllamaDouble(responder=consolidating_responder).start()
    dev = DevServer(workdir=tmp_path_factory.mktemp("consolidation"), double=double)
    try:
        yield dev.start()
    finally:
        dev.stop()
        double.stop()


@pytest.fixture
async def http(server: DevServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        yield client


async def say(http: httpx.AsyncClient, user: str, text: str) -> None:
    response = await http.post(
        "/v1/chat/completions",
        json={"model": "memgpt", "messages": [{"role": "user", "content": text}]},
        headers={"X-User-Id": user},
    )
    assert response.status_code == 200, response.text


async def archive_search(http: httpx.AsyncClient, user: str, query: str) -> list[str]:
    response = await http.post("/memory/search", json={"query": query, "user": user})
    assert response.status_code == 200, response.text
    return [passage["content"] for passage in response.json()["results"]]


async def test_the_http_route_consolidates_the_callers_thread(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    nothing = await http.post("/memory/consolidate", json={"user": "rosa"})
    assert nothing.status_code == 200 and nothing.json()["messages"] == 0, nothing.text

    await say(http, "rosa", "I moved to Lisbon last spring.")
    await say(http, "rosa", "My cat Figo hates the tram.")
    response = await http.post("/memory/consolidate", json={"user": "rosa"})
    assert response.status_code == 200, (response.text, server.output())
    report = response.json()
    assert report["thread_id"] == user_thread_id("rosa")
    assert (report["messages"], report["facts_added"], report["entities"]) == (4, 2, 1), report
    assert report["block_edits"] and report["notes"] == []

    found = await archive_search(http, "rosa", "moved to Lisbon")
    assert "Fact: I moved to Lisbon last spring." in found
    core = (await http.get("/memory/core", params={"user": "rosa"})).json()
    assert core["blocks"]["human"]["value"] == "Lives in Lisbon."
    # Another user's memory is untouched, and a second run finds nothing new.
    assert await archive_search(http, "tomas", "Lisbon") == []
    again = (await http.post("/memory/consolidate", json={"user": "rosa"})).json()
    assert again["messages"] == 0


async def test_a_cron_runs_the_consolidate_graph_under_langgraph_dev(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    await say(http, "marta", "I just started a job in Porto.")
    client = get_client(url=server.url)
    cron = await client.crons.create(
        "consolidate",
        schedule="* * * * *",
        input={"thread_id": user_thread_id("marta")},
        context={"user_id": "marta"},
    )
    try:
        deadline = time.monotonic() + CRON_WAIT
        found: list[str] = []
        while time.monotonic() < deadline:
            found = await archive_search(http, "marta", "job in Porto")
            if found:
                break
            await asyncio.sleep(3)
        assert "Fact: I just started a job in Porto." in found, server.output()
    finally:
        await client.crons.delete(cron["cron_id"])


def test_the_terminal_command_consolidates_with_progress_and_resumes(
    make_double, tmp_path: Path
) -> None:
    double = make_double(responder=consolidating_responder)
    db, archive = tmp_path / "c.sqlite", tmp_path / "a.sqlite"
    made = chat(
        db,
        double.url,
        ["I moved to Madrid in May.", "/quit"],
        tmp_path,
        extra=("--user", "ada", "--archive", str(archive)),
    )
    assert made.returncode == 0, describe(made)
    storage = ["--db", str(db), "--archive", str(archive)]
    ran = command_with_model(
        ["consolidate", "--thread", THREAD, "--user", "ada", *storage], tmp_path, double.url
    )
    assert ran.returncode == 0, describe(ran)
    assert "consolidating: [" in ran.stderr and "2/2 messages" in ran.stderr, describe(ran)
    assert f"thread '{THREAD}' of user 'ada': 2 messages in 1 chunks" in ran.stdout
    assert "facts: 1 stored" in ran.stdout and "core memory: human:" in ran.stdout

    again = command_with_model(
        ["consolidate", "--thread", THREAD, "--user", "ada", *storage], tmp_path, double.url
    )
    assert "nothing new since the last consolidation" in again.stdout, describe(again)
    missing = command(["consolidate", "--thread", "nope", "--user", "ada", *storage], tmp_path)
    assert missing.returncode == 1 and "has no messages" in missing.stderr, describe(missing)


def command_with_model(args: list[str], cwd: Path, url: str):
    from test_cli import cli_env, run_cli

    return run_cli(args, "", cli_env(cwd, url), cwd)
