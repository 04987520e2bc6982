"""``langgraph dev`` serves the agent from langgraph.json; the SDK runs it against the double.

One server for the module (see dev_server.py): it loads ``langgraph_memgpt.graph:graph`` and
the SQLite checkpointer / sqlite-vec archive factories as LangGraph Studio would, on files in
a temp folder. The last test stops it and starts it again on the same files: the thread's
messages, its core memory, the user's archival passages and conversation_search must all
still be there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from dev_server import WINDOW, DevServer
from langgraph_sdk import get_client
from ollama_double import Answer, OllamaDouble, send_message

pytestmark = pytest.mark.integration

USER = "ada"


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    double = OllamaDouble().start()  # default echo responder; tests add scripted answers
    server = DevServer(workdir=tmp_path_factory.mktemp("langgraph-dev"), double=double)
    try:
        yield server.start()
    finally:
        server.stop()
        double.stop()


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def tool_results(state: dict[str, Any], name: str) -> list[str]:
    return [
        m["content"]
        for m in state["values"]["messages"]
        if m["type"] == "tool" and m.get("name") == name
    ]


def checkpoint_rows(server: DevServer, thread_id: str) -> int:
    uri = f"file:{server.checkpoint_db}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        query = "SELECT count(*) FROM checkpoints WHERE thread_id = ?"
        return db.execute(query, (thread_id,)).fetchone()[0]


def replies(messages: list[dict[str, Any]]) -> list[str]:
    return [
        call["args"]["message"]
        for message in messages
        if message["type"] == "ai"
        for call in message.get("tool_calls") or []
        if call["name"] == "send_message"
    ]


async def test_assistant_memgpt_is_registered(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)

    assistants = await client.assistants.search(graph_id="memgpt")

    assert [a["graph_id"] for a in assistants] == ["memgpt"], dev_server.output()


async def test_run_wait_updates_the_thread_state(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()
    before = len(dev_server.double.chat_requests())

    result = await client.runs.wait(
        thread["thread_id"], "memgpt", input=user("hello there"), context={"user_id": USER}
    )

    assert isinstance(result, dict) and "__error__" not in result, (result, dev_server.output())
    state = await client.threads.get_state(thread["thread_id"])
    values = state["values"]
    assert {"persona", "human"} <= set(values["blocks"]), values.keys()
    assert values["blocks"]["human"]["limit"] == 5000
    budget = values["budget"]
    assert budget["context_window"] == WINDOW
    assert {"system", "core_memory", "tools", "summary", "queue"} <= set(budget)
    assert budget["core_memory"] > 0 and budget["tools"] > 0
    assert replies(values["messages"]) == ["You said: hello there"], dev_server.output()

    # The checkpoints are in the file langgraph.json's factory opened ($MEMGPT_CHECKPOINT_DB).
    assert checkpoint_rows(dev_server, thread["thread_id"]) > 0

    # The server's model calls went to the double, configured from the MEMGPT_* environment.
    requests = dev_server.double.chat_requests()[before:]
    assert len(requests) == 1
    assert requests[0]["options"]["num_ctx"] == WINDOW
    assert requests[0]["messages"][-1] == {"role": "user", "content": "hello there"}


async def test_a_dead_model_fails_the_run_with_one_log_line(
    dev_server: DevServer, dead_url: str
) -> None:
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()
    logged = len(dev_server.log.read_text(errors="replace"))
    context = {"user_id": USER, "model": "ollama:qwen3:4b", "ollama_base_url": dead_url}

    result = await client.runs.wait(
        thread["thread_id"], "memgpt", input=user("hi"), context=context, raise_error=False
    )

    assert "__error__" in result and dead_url in str(result), result
    log = dev_server.log.read_text(errors="replace")[logged:]
    assert "Traceback" not in log, log
    failures = [line for line in log.splitlines() if "ModelCallFailedError" in line]
    # Two retries (info) and the run's failure: each one line, the error said once.
    assert sum("Background run failed" in line for line in failures) == 1, log
    assert not any("Run encountered an error" in line for line in failures), log


async def test_a_run_on_the_embedded_engine(dev_server: DevServer) -> None:
    """The llamacpp: spec works from a run's context, off the server's event loop (the
    engine starts inside the run; langgraph dev's blocking-call detector is on)."""
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()
    context = {"user_id": USER, "model": "llamacpp:smollm2-135m", "max_output_tokens": 48}

    result = await client.runs.wait(
        thread["thread_id"], "memgpt", input=user("Hello!"), context=context, raise_error=False
    )

    assert "__error__" not in result, (result, dev_server.output())
    answers = [m for m in result["messages"] if m["type"] == "ai"]
    assert answers and answers[-1]["usage_metadata"]["input_tokens"] > 0, result
    assert answers[-1]["usage_metadata"]["output_tokens"] <= 48
    assert "Blocking call" not in dev_server.output()


async def test_without_api_keys_studio_and_any_key_get_in(dev_server: DevServer) -> None:
    """langgraph.json has custom auth (server/auth.py); with no MEMGPT_API_KEYS it is the
    single-user local mode: Studio's requests (x-auth-scheme: langsmith), clients without a
    key and clients with any key all reach every thread, as before auth was wired in."""
    plain = get_client(url=dev_server.url)
    thread = await plain.threads.create(metadata={"made_by": "plain client"})
    for headers in ({"x-auth-scheme": "langsmith"}, {"Authorization": "Bearer anything"}):
        client = get_client(url=dev_server.url, headers=headers)

        result = await client.runs.wait(thread["thread_id"], "memgpt", input=user("hi studio"))

        assert isinstance(result, dict) and "__error__" not in result, dev_server.output()
        found = await client.threads.search(metadata={"made_by": "plain client"})
        assert [t["thread_id"] for t in found] == [thread["thread_id"]]


async def test_run_stream_messages_and_updates(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()

    nodes: list[str] = []
    streamed: dict[str, dict[str, Any]] = {}  # message id -> latest (partial or complete)
    async for part in client.runs.stream(
        thread["thread_id"],
        "memgpt",
        input=user("stream please"),
        stream_mode=["messages", "updates"],
    ):
        assert part.event != "error", (part.data, dev_server.output())
        if part.event == "updates":
            nodes.extend(part.data)
        elif part.event in ("messages/partial", "messages/complete"):
            streamed.update({message["id"]: message for message in part.data})

    # Automatic retrieval is on for Ollama models: its node runs first and reports what it found.
    assert nodes == ["retrieve_memory", "check_memory_pressure", "reason", "execute_tools"], (
        dev_server.output()
    )
    # The model's message streams token by token (the double sends its tool call whole), and
    # the tool's answer follows.
    kinds = [message["type"] for message in streamed.values()]
    assert kinds == ["ai", "tool"], streamed
    assert replies(list(streamed.values())) == ["You said: stream please"], streamed


async def test_conversation_search_reaches_the_servers_checkpointer(dev_server: DevServer) -> None:
    """Under langgraph dev the server injects its checkpointer; recall search reads it."""
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()
    await client.runs.wait(
        thread["thread_id"], "memgpt", input=user("My sister Alice moved to Lisbon.")
    )
    dev_server.double.script.extend(
        [
            Answer(
                tool_calls=[
                    tool_call("conversation_search", query="sister", request_heartbeat=True)
                ]
            ),
            send_message("She lives in Lisbon."),
        ]
    )

    await client.runs.wait(thread["thread_id"], "memgpt", input=user("Where is my sister?"))

    state = await client.threads.get_state(thread["thread_id"])
    results = tool_results(state, "conversation_search")
    assert results, dev_server.output()
    assert "My sister Alice moved to Lisbon." in results[-1], dev_server.output()
    assert "Showing" in results[-1]


async def test_memory_survives_a_restart(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    dev_server.double.script.extend(
        [
            Answer(
                tool_calls=[
                    tool_call(
                        "core_memory_append",
                        label="human",
                        content="Has a grey cat called Miso.",
                        request_heartbeat=True,
                    ),
                    tool_call(
                        "archival_memory_insert",
                        content="Ada adopted Miso, a grey cat, from a Lisbon shelter in 2021.",
                        tags=["pets"],
                        request_heartbeat=True,
                    ),
                ]
            ),
            send_message("What a lovely name!"),
        ]
    )
    await client.runs.wait(
        thread_id,
        "memgpt",
        input=user("I adopted a grey cat called Miso in 2021."),
        context={"user_id": USER},
    )
    before = (await client.threads.get_state(thread_id))["values"]
    assert "Miso" in before["blocks"]["human"]["value"], dev_server.output()

    dev_server.restart()
    client = get_client(url=dev_server.url)

    state = await client.threads.get_state(thread_id)
    after = state["values"]
    assert [m["content"] for m in after["messages"]] == [m["content"] for m in before["messages"]]
    assert "What a lovely name!" in replies(after["messages"])
    assert after["blocks"] == before["blocks"]
    assert after["budget"] == before["budget"]

    passages = await client.store.search_items(["archival", USER], query="grey cat shelter")
    assert [p["value"]["content"] for p in passages["items"]][:1] == [
        "Ada adopted Miso, a grey cat, from a Lisbon shelter in 2021."
    ], dev_server.output()

    dev_server.double.script.extend(
        [
            Answer(
                tool_calls=[
                    tool_call("conversation_search", query="cat adopted", request_heartbeat=True)
                ]
            ),
            send_message("You adopted Miso in 2021."),
        ]
    )
    await client.runs.wait(
        thread_id, "memgpt", input=user("When did I get my cat?"), context={"user_id": USER}
    )
    results = tool_results(await client.threads.get_state(thread_id), "conversation_search")
    assert results and "I adopted a grey cat called Miso in 2021." in results[-1], (
        results,
        dev_server.output(),
    )
