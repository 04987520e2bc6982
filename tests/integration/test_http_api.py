"""The HTTP API (langgraph.json ``http.app``) on a real ``langgraph dev`` server.

Chat through the official ``openai`` client (as Open WebUI would), the memory and status
endpoints through httpx. Every refused request is checked to have written nothing: no
thread, no checkpoint, no passage. One server for the module (see dev_server.py); each test
uses its own user, so each has its own thread and archive.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from dev_server import WINDOW, DevServer, platform_style_config
from langgraph_memgpt.server.backend import user_thread_id
from langgraph_memgpt.server.chat import CHAT_ID_HEADER as CHAT_HEADER
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError
from ollama_double import (
    Answer,
    OllamaDouble,
    echo_responder,
    memory_text,
    send_message,
    user_texts,
)

pytestmark = pytest.mark.integration
QUEUE_WAIT = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    double = OllamaDouble().start()  # echo responder: "You said: <newest user message>"
    dev = DevServer(
        workdir=tmp_path_factory.mktemp("http-api"),
        double=double,
        env={"MEMGPT_QUEUE_WAIT_SECONDS": str(QUEUE_WAIT)},
    )
    try:
        yield dev.start()
    finally:
        dev.stop()
        double.stop()


@pytest.fixture
async def http(server: DevServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
def chat_client(server: DevServer) -> openai.AsyncOpenAI:
    # max_retries=0: the client would otherwise retry a 409 and hide it.
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0)


async def thread_messages(server: DevServer, user: str) -> list[dict[str, Any]]:
    state = await get_client(url=server.url).threads.get_state(user_thread_id(user))
    return (state["values"] or {}).get("messages", [])


async def checkpoint_count(server: DevServer, user: str) -> int:
    history = await get_client(url=server.url).threads.get_history(user_thread_id(user), limit=1000)
    return len(history)


async def has_thread(server: DevServer, user: str) -> bool:
    try:
        await get_client(url=server.url).threads.get(user_thread_id(user))
    except NotFoundError:
        return False
    return True


async def archival_count(http: httpx.AsyncClient, user: str) -> int:
    response = await http.get("/status", params={"user": user})
    assert response.status_code == 200, response.text
    return response.json()["archival_passages"]


def assert_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, message


# -- OpenAI-compatible chat ---------------------------------------------------------------------


async def test_models_list_names_the_agent(chat_client: openai.AsyncOpenAI) -> None:
    models = await chat_client.models.list()

    assert [model.id for model in models.data] == ["memgpt"]


async def test_chat_completion_takes_only_the_newest_user_message(
    server: DevServer, chat_client: openai.AsyncOpenAI
) -> None:
    before = len(server.double.chat_requests())

    completion = await chat_client.chat.completions.create(
        model="memgpt",
        user="chat-ada",
        messages=[
            {"role": "system", "content": "You are a front end's system prompt."},
            {"role": "user", "content": "An old message the front end resends."},
            {"role": "assistant", "content": "An old answer."},
            {"role": "user", "content": "Hello, I am Ada."},
        ],
    )

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "You said: Hello, I am Ada."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    prompt = server.double.chat_requests()[before:][0]["messages"]
    assert user_texts(prompt) == ["Hello, I am Ada."], prompt
    assert [m["type"] for m in await thread_messages(server, "chat-ada")] == [
        "human",
        "ai",
        "tool",
    ]


async def test_streamed_chat_completion(chat_client: openai.AsyncOpenAI) -> None:
    stream = await chat_client.chat.completions.create(
        model="memgpt",
        user="chat-stream",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Stream this."}]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish_reasons, usage = [], [], None
    async for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            finish_reasons.append(choice.finish_reason)
        usage = chunk.usage or usage

    assert "".join(text) == "You said: Stream this."
    assert finish_reasons[-1] == "stop"
    assert usage is not None and usage.total_tokens > 0


async def test_the_header_picks_the_user_and_their_own_thread(
    server: DevServer, chat_client: openai.AsyncOpenAI
) -> None:
    for user, text in (("chat-one", "I am user one."), ("chat-two", "I am user two.")):
        await chat_client.chat.completions.create(
            model="memgpt",
            messages=[{"role": "user", "content": text}],
            extra_headers={"X-User-Id": user},
        )
    await chat_client.chat.completions.create(
        model="memgpt",
        messages=[{"role": "user", "content": "Still user one."}],
        extra_headers={"X-User-Id": "chat-one"},
    )

    one = [m["content"] for m in await thread_messages(server, "chat-one") if m["type"] == "human"]
    two = [m["content"] for m in await thread_messages(server, "chat-two") if m["type"] == "human"]
    assert one == ["I am user one.", "Still user one."]
    assert two == ["I am user two."]


async def test_refused_chat_requests_write_nothing(
    server: DevServer, chat_client: openai.AsyncOpenAI, http: httpx.AsyncClient
) -> None:
    before = len(server.double.chat_requests())
    user = "chat-refused"

    with pytest.raises(openai.NotFoundError, match="does not exist"):
        await chat_client.chat.completions.create(
            model="gpt-4o", user=user, messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.BadRequestError, match="no user message"):
        await chat_client.chat.completions.create(
            model="memgpt", user=user, messages=[{"role": "system", "content": "hi"}]
        )
    with pytest.raises(openai.BadRequestError, match="invalid user id"):
        await chat_client.chat.completions.create(
            model="memgpt", user="a.b", messages=[{"role": "user", "content": "hi"}]
        )
    response = await http.post(
        "/v1/chat/completions",
        content=b"{not json",
        headers={"Content-Type": "application/json", "X-User-Id": user},
    )
    assert_error(response, 400, "not valid JSON")
    response = await http.post(
        "/v1/chat/completions",
        json={"model": "memgpt", "messages": [{"role": "user", "content": "hi"}], "user": user},
        headers={"X-User-Id": "someone-else"},
    )
    assert_error(response, 400, "two users")
    response = await http.post(
        "/v1/chat/completions",
        json={"model": "memgpt", "messages": [{"role": "user", "content": "   "}], "user": user},
    )
    assert_error(response, 400, "no text")

    assert not await has_thread(server, user)
    assert len(server.double.chat_requests()) == before


async def test_a_message_while_the_agent_answers_waits_its_turn(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    user = "chat-busy"
    await http.post(  # the thread exists and has had a turn
        "/v1/chat/completions",
        json={"model": "memgpt", "user": user, "messages": [{"role": "user", "content": "hi"}]},
    )
    seen = len(server.double.chat_requests())
    server.double.script.append(replace(send_message("Slow answer."), delay=3.0))
    first = asyncio.create_task(
        http.post(
            "/v1/chat/completions",
            json=chat_request(user, "Take your time."),
        )
    )
    while len(server.double.chat_requests()) == seen:  # the model is now "thinking"
        await asyncio.sleep(0.05)

    second = asyncio.create_task(
        http.post(
            "/v1/chat/completions",
            json=chat_request(user, "Hey?"),
        )
    )
    patch = await http.patch(
        "/memory/core/human", json={"value": "Busy user."}, headers={"X-User-Id": user}
    )

    assert_error(patch, 409, "still answering")
    answered, queued = await first, await second
    assert answered.json()["choices"][0]["message"]["content"] == "Slow answer."
    assert queued.status_code == 200, queued.text
    assert queued.json()["choices"][0]["message"]["content"] == "You said: Hey?"
    texts = [m["content"] for m in await thread_messages(server, user) if m["type"] == "human"]
    assert texts[-2:] == ["Take your time.", "Hey?"]
    blocks = (await http.get("/memory/core", params={"user": user})).json()["blocks"]
    assert blocks["human"]["value"] != "Busy user."


async def test_a_queued_message_past_the_wait_gets_a_clear_error(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    user = "chat-queue-bound"
    seen = len(server.double.chat_requests())
    server.double.script.append(replace(send_message("Very slow."), delay=QUEUE_WAIT + 4))
    first = asyncio.create_task(
        http.post(
            "/v1/chat/completions",
            json=chat_request(user, "1"),
        )
    )
    while len(server.double.chat_requests()) == seen:
        await asyncio.sleep(0.05)

    second = await http.post(
        "/v1/chat/completions",
        json=chat_request(user, "2"),
    )

    assert_error(second, 503, "still answering", "not sent", "MEMGPT_QUEUE_WAIT_SECONDS")
    assert (await first).status_code == 200
    runs = await get_client(url=server.url).runs.list(user_thread_id(user))
    assert sorted(run["status"] for run in runs) == ["interrupted", "success"]
    texts = [m["content"] for m in await thread_messages(server, user) if m["type"] == "human"]
    assert texts == ["1"]


async def test_a_client_that_hangs_up_cancels_its_turn(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    user = "chat-hangup"
    seen = len(server.double.chat_requests())
    server.double.script.append(replace(send_message("Worth the wait."), delay=1.5))
    request = {
        "model": "memgpt",
        "user": user,
        "stream": True,
        "messages": [{"role": "user", "content": "Tell me slowly."}],
    }
    async with http.stream("POST", "/v1/chat/completions", json=request) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data:"):  # the run started; hang up while the model thinks
                while len(server.double.chat_requests()) == seen:
                    await asyncio.sleep(0.05)
                break

    client = get_client(url=server.url)
    deadline = asyncio.get_running_loop().time() + 30
    while (await client.threads.get(user_thread_id(user)))["status"] == "busy":
        assert asyncio.get_running_loop().time() < deadline, server.output()
        await asyncio.sleep(0.2)
    runs = await client.runs.list(user_thread_id(user))
    assert [run["status"] for run in runs] == ["interrupted"]
    assert "Worth the wait." not in str(await thread_messages(server, user))
    again = await http.post(
        "/v1/chat/completions",
        json={**request, "stream": False, "messages": [{"role": "user", "content": "Again."}]},
    )
    assert again.json()["choices"][0]["message"]["content"] == "You said: Again."


CAT = "My cat is called Pepper."
TITLE_PROMPT = (
    "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history."
    '\n### Output:\nJSON format: { "title": "your concise title here" }\n'
    "<chat_history>\nUSER: My cat is called Pepper.\n</chat_history>"
)


async def test_a_title_task_sent_with_the_first_message_is_not_a_turn(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    """What Open WebUI does on a new chat: the title request goes out just before the message."""
    user = "chat-tasks"

    def responder(request: dict[str, Any]) -> Answer:
        if "### Task:" in str(request.get("messages")):
            return Answer(content='{"title": "Pepper the Cat"}', delay=1.0)
        return replace(echo_responder(request), delay=1.0)

    server.double.responder = responder
    try:
        title = asyncio.create_task(
            http.post(
                "/v1/chat/completions",
                json={
                    "model": "memgpt",
                    "user": user,
                    "messages": [{"role": "user", "content": TITLE_PROMPT}],
                },
            )
        )
        await asyncio.sleep(0.3)  # the task is generating when the message arrives
        message = await http.post(
            "/v1/chat/completions",
            json={
                "model": "memgpt",
                "user": user,
                "messages": [{"role": "user", "content": CAT}],
            },
        )
        titled = await title
    finally:
        server.double.responder = echo_responder

    assert message.status_code == 200, message.text
    assert (
        message.json()["choices"][0]["message"]["content"] == "You said: My cat is called Pepper."
    )
    assert titled.status_code == 200, titled.text
    assert titled.json()["choices"][0]["message"]["content"] == '{"title": "Pepper the Cat"}'
    state = await get_client(url=server.url).threads.get_state(user_thread_id(user))
    assert "### Task" not in json.dumps(state["values"])
    prompts = [json.dumps(r["messages"]) for r in server.double.chat_requests()]
    assert not any("### Task" in p and "send_message" in p for p in prompts)  # not the agent's


def chat_request(user: str, *texts: str) -> dict[str, Any]:
    """What a front end sends: the chat so far (user texts, echo replies) and the new one."""
    messages: list[dict[str, str]] = []
    for text in texts[:-1]:
        messages += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": f"You said: {text}"},
        ]
    messages.append({"role": "user", "content": texts[-1]})
    return {"model": "memgpt", "user": user, "messages": messages}


async def test_regenerate_and_edit_continue_from_where_the_histories_part(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    user = "chat-branches"
    first_chat, second_chat = {CHAT_HEADER: "chat-1"}, {CHAT_HEADER: "chat-2"}

    async def send(headers: dict[str, str], *texts: str) -> str:
        response = await http.post(
            "/v1/chat/completions", json=chat_request(user, *texts), headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]["content"]

    async def said() -> list[str]:
        return [m["content"] for m in await thread_messages(server, user) if m["type"] == "human"]

    await send(first_chat, "My dog is Rex.")
    await send(first_chat, "My dog is Rex.", "What is my dog called?")
    old_ids = [m["id"] for m in await thread_messages(server, user)]

    await send(first_chat, "My dog is Rex.", "What is my dog called?")  # Regenerate
    assert await said() == ["My dog is Rex.", "What is my dog called?"]

    assert await send(first_chat, "My dog is Max.") == "You said: My dog is Max."  # edit
    assert await said() == ["My dog is Max."]
    state = await get_client(url=server.url).threads.get_state(user_thread_id(user))
    assert set(old_ids) <= set(state["values"]["forgotten_ids"])  # out of recall search
    assert not set(old_ids) & {m["id"] for m in state["values"]["messages"]}

    await send(second_chat, "Hello from another chat.")
    # The first chat's message again: forking would drop the other chat's turn, so it appends.
    await send(first_chat, "My dog is Max.")
    assert await said() == ["My dog is Max.", "Hello from another chat.", "My dog is Max."]
    # A client without a chat id and with no history only ever appends.
    await send({}, "Plain client.")
    assert (await said())[-1] == "Plain client."


async def test_a_failing_model_is_reported_not_hidden(
    server: DevServer, http: httpx.AsyncClient, chat_client: openai.AsyncOpenAI
) -> None:
    # Ollama answers 404 when the model is not pulled; the agent says so in one line.
    server.double.script.extend([Answer(status=404), Answer(status=404)])
    request = {"model": "memgpt", "messages": [{"role": "user", "content": "Are you there?"}]}

    response = await http.post("/v1/chat/completions", json=request, headers={"X-User-Id": "fail"})
    assert_error(response, 502, "the agent failed", "ollama pull qwen3:4b")
    assert response.json()["error"]["type"] == "agent_error"

    stream = await chat_client.chat.completions.create(**request, user="fail", stream=True)
    with pytest.raises(openai.APIError, match="ollama pull qwen3:4b"):
        async for _ in stream:
            pass


# -- plain chat ---------------------------------------------------------------------------------


async def test_plain_chat_answers_the_users_message_on_their_thread(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    before = len(server.double.chat_requests())

    response = await http.post("/chat", json={"message": "Hello, I am Ada.", "user_id": "plain"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "You said: Hello, I am Ada."
    assert body["replies"] == ["You said: Hello, I am Ada."]
    assert body["user_id"] == "plain"
    assert body["thread_id"] == user_thread_id("plain")
    assert body["run_id"] and body["usage"]["prompt_tokens"] > 0
    prompt = server.double.chat_requests()[before:][0]["messages"]
    assert user_texts(prompt) == ["Hello, I am Ada."]
    # The same thread as the OpenAI-compatible route's; 'user' and the header name users too.
    await http.post(
        "/v1/chat/completions",
        json={"model": "memgpt", "user": "plain", "messages": [{"role": "user", "content": "2"}]},
    )
    again = await http.post("/chat", json={"message": "3", "user": "plain"})
    header = await http.post("/chat", json={"message": "4"}, headers={"X-User-Id": "plain"})
    assert again.json()["message"] == "You said: 3" and header.json()["user_id"] == "plain"
    texts = [m["content"] for m in await thread_messages(server, "plain") if m["type"] == "human"]
    assert texts == ["Hello, I am Ada.", "2", "3", "4"]


async def test_refused_plain_chats_write_nothing(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    before = len(server.double.chat_requests())
    user = "plain-refused"

    assert_error(await http.post("/chat", json={"message": "  ", "user_id": user}), 400, "empty")
    assert_error(await http.post("/chat", json={"user_id": user}), 400, "message")
    assert_error(
        await http.post("/chat", json={"message": "hi", "user_id": "a.b"}), 400, "invalid user id"
    )
    assert_error(
        await http.post(
            "/chat", json={"message": "hi", "user_id": user}, headers={"X-User-Id": "someone"}
        ),
        400,
        "two users",
    )

    assert not await has_thread(server, user)
    assert len(server.double.chat_requests()) == before


# -- archival memory ----------------------------------------------------------------------------


async def test_memory_add_and_search(http: httpx.AsyncClient) -> None:
    ada = {"X-User-Id": "mem-ada"}
    for content, tags in (
        ("Ada's cat Miso loves tuna and sleeps on the radiator.", ["pets"]),
        ("Ada works on the Analytical Engine with Charles Babbage.", ["work"]),
        ("Ada's favourite tea is Earl Grey, no sugar.", ["food"]),
    ):
        response = await http.post(
            "/memory/add", json={"content": content, "tags": tags}, headers=ada
        )
        assert response.status_code == 201, response.text
        assert len(response.json()["ids"]) == 1
    await http.post(
        "/memory/add",
        json={"content": "Bob's cat is called Felix."},
        headers={"X-User-Id": "mem-bob"},
    )
    long = await http.post(
        "/memory/add",
        json={"content": "Engine notes. " * 400, "source": "notes.txt"},
        headers=ada,
    )
    assert long.status_code == 201 and len(long.json()["ids"]) > 1

    found = await http.post("/memory/search", json={"query": "what does my cat eat"}, headers=ada)
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    assert results[0]["content"].startswith("Ada's cat Miso")
    assert results[0]["tags"] == ["pets"] and results[0]["similarity"] > 0
    assert not any("Felix" in r["content"] for r in results)  # Bob's archive is Bob's

    tagged = await http.post(
        "/memory/search", json={"query": "Ada", "tags": ["work"], "limit": 5}, headers=ada
    )
    assert [r["content"] for r in tagged.json()["results"]] == [
        "Ada works on the Analytical Engine with Charles Babbage."
    ]
    old = await http.post(
        "/memory/search",
        json={"query": "cat", "end_datetime": "2020-01-01"},
        headers=ada,
    )
    assert old.json()["results"] == [] and old.json()["total"] == 0
    limited = await http.post("/memory/search", json={"query": "Ada", "limit": 1}, headers=ada)
    assert len(limited.json()["results"]) == 1 and limited.json()["total"] > 1
    bob = await http.post("/memory/search", json={"query": "cat", "user": "mem-bob"})
    assert [r["content"] for r in bob.json()["results"]] == ["Bob's cat is called Felix."]


async def test_refused_memory_requests_write_nothing(http: httpx.AsyncClient) -> None:
    user = {"X-User-Id": "mem-refused"}
    await http.post("/memory/add", json={"content": "One real passage."}, headers=user)
    stored = await archival_count(http, "mem-refused")

    assert_error(await http.post("/memory/add", json={"content": "  "}, headers=user), 400, "empty")
    assert_error(await http.post("/memory/add", json={}, headers=user), 400, "content")
    assert_error(
        await http.post("/memory/add", json={"content": "x", "tag": ["typo"]}, headers=user),
        400,
        "tag",
    )
    assert_error(
        await http.post("/memory/add", json={"content": "x" * 200_001}, headers=user),
        400,
        "200000",
    )
    assert_error(
        await http.post("/memory/add", json={"content": "x"}, headers={"X-User-Id": "bad user"}),
        400,
        "invalid user id",
    )
    assert_error(
        await http.post("/memory/add", content=b"[1, 2", headers=user), 400, "not valid JSON"
    )
    assert_error(await http.post("/memory/search", json={"query": ""}, headers=user), 400, "query")
    response = await http.post(
        "/memory/search", json={"query": "x", "end_datetime": "last week"}, headers=user
    )
    assert_error(response, 400, "end_datetime")
    assert response.json()["error"]["param"] == "end_datetime"

    assert await archival_count(http, "mem-refused") == stored


# -- core memory --------------------------------------------------------------------------------


async def test_core_memory_read_and_rewrite(server: DevServer, http: httpx.AsyncClient) -> None:
    user = {"X-User-Id": "core-carol"}
    fresh = (await http.get("/memory/core", headers=user)).json()
    assert fresh["initialized"] is False
    assert fresh["thread_id"] == user_thread_id("core-carol")
    assert set(fresh["blocks"]) == {"persona", "human"}
    assert fresh["blocks"]["human"]["limit"] == 5000

    patched = await http.patch(
        "/memory/core/human", json={"value": "Carol, a chemist in Porto."}, headers=user
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["value"] == "Carol, a chemist in Porto."
    assert patched.json()["chars"] == len("Carol, a chemist in Porto.")

    read = (await http.get("/memory/core", params={"user": "core-carol"})).json()
    assert read["initialized"] is True
    assert read["blocks"]["human"]["value"] == "Carol, a chemist in Porto."
    assert read["blocks"]["persona"] == fresh["blocks"]["persona"] | {
        "updated_at": read["blocks"]["persona"]["updated_at"]
    }
    # The agent's next prompt carries the edited block.
    before = len(server.double.chat_requests())
    await http.post(
        "/v1/chat/completions",
        json={"model": "memgpt", "messages": [{"role": "user", "content": "Hi!"}]},
        headers=user,
    )
    prompt = server.double.chat_requests()[before:][0]["messages"]
    assert "Carol, a chemist in Porto." in memory_text(prompt)


async def test_refused_core_memory_edits_write_nothing(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    user_id = "core-refused"
    user = {"X-User-Id": user_id}
    await http.post(
        "/v1/chat/completions",
        json={"model": "memgpt", "messages": [{"role": "user", "content": "Hello"}]},
        headers=user,
    )
    # A read-only block, as an application's build_graph(blocks=...) would give a thread.
    await get_client(url=server.url).threads.update_state(
        user_thread_id(user_id),
        {
            "blocks": {
                "policy": {
                    "value": "Be kind.",
                    "limit": 100,
                    "description": "House rules",
                    "read_only": True,
                    "updated_at": "2026-01-01T00:00:00+00:00",
                }
            }
        },
        as_node="execute_tools",
    )
    blocks = (await http.get("/memory/core", headers=user)).json()["blocks"]
    checkpoints = await checkpoint_count(server, user_id)

    assert_error(
        await http.patch("/memory/core/pets", json={"value": "x"}, headers=user),
        404,
        "no memory block 'pets'",
    )
    assert_error(
        await http.patch("/memory/core/policy", json={"value": "Be rude."}, headers=user),
        403,
        "read-only",
    )
    assert_error(
        await http.patch("/memory/core/human", json={"value": "x" * 5001}, headers=user),
        400,
        "over its limit of 5,000",
    )
    assert_error(
        await http.patch("/memory/core/human", json={"value": 42}, headers=user), 400, "value"
    )
    assert_error(
        await http.patch(
            "/memory/core/human", json={"value": "x", "user": "someone-else"}, headers=user
        ),
        400,
        "two users",
    )

    assert await checkpoint_count(server, user_id) == checkpoints
    assert (await http.get("/memory/core", headers=user)).json()["blocks"] == blocks


async def test_memory_add_core_appends_to_a_block(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    user_id = "core-add-dan"
    user = {"X-User-Id": user_id}
    fresh = (await http.get("/memory/core", headers=user)).json()["blocks"]["human"]["value"]

    added = await http.post(
        "/memory/add", json={"content": "Dan keeps bees.", "memory_type": "core"}, headers=user
    )

    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["memory_type"], body["label"], body["ids"]) == ("core", "human", [])
    assert body["block"]["value"] == f"{fresh}\nDan keeps bees."
    blocks = (await http.get("/memory/core", headers=user)).json()["blocks"]
    assert blocks["human"]["value"] == f"{fresh}\nDan keeps bees."
    assert await archival_count(http, user_id) == 0  # not an archival passage
    before = len(server.double.chat_requests())
    await http.post("/chat", json={"message": "Hi!"}, headers=user)
    prompt = server.double.chat_requests()[before:][0]["messages"]
    assert "Dan keeps bees." in memory_text(prompt)

    checkpoints = await checkpoint_count(server, user_id)
    blocks = (await http.get("/memory/core", headers=user)).json()["blocks"]
    for request, status, words, param in (
        ({"content": "x", "memory_type": "core", "label": "pets"}, 404, ("'pets'",), "label"),
        ({"content": "x" * 5000, "memory_type": "core"}, 400, ("limit of 5,000",), "content"),
        ({"content": "x", "memory_type": "core", "tags": ["a"]}, 400, ("archival",), "tags"),
        ({"content": "x", "memory_type": "recall"}, 400, ("archival", "core"), "memory_type"),
    ):
        refused = await http.post("/memory/add", json=request, headers=user)
        assert_error(refused, status, *words)
        assert refused.json()["error"]["param"] == param, refused.text
    assert await checkpoint_count(server, user_id) == checkpoints
    assert (await http.get("/memory/core", headers=user)).json()["blocks"] == blocks


# -- status and docs ----------------------------------------------------------------------------


async def test_status_reports_the_users_memory(server: DevServer, http: httpx.AsyncClient) -> None:
    user = {"X-User-Id": "status-dora"}
    empty = (await http.get("/status", headers=user)).json()
    assert empty["thread_id"] is None and empty["budget"] is None
    assert empty["recall_messages"] == 0 and empty["archival_passages"] == 0

    for text in ("First message.", "Second message."):
        await http.post(
            "/v1/chat/completions",
            json={"model": "memgpt", "messages": [{"role": "user", "content": text}]},
            headers=user,
        )
    await http.post("/memory/add", json={"content": "Dora likes maps."}, headers=user)
    status = (await http.get("/status", headers=user)).json()

    assert status["model"] == "auto"  # as configured (the default)
    assert status["context_window"] == WINDOW
    assert status["user_id"] == "status-dora"
    assert status["thread_id"] == user_thread_id("status-dora")
    assert {"system", "core_memory", "tools", "summary", "queue"} <= set(status["budget"])
    assert status["recall_messages"] == 6  # two turns: user, send_message call, tool result
    assert status["archival_passages"] == 1
    assert status["storage"]["checkpoints"] == str(server.checkpoint_db)
    assert status["storage"]["archive"] == str(server.archive_db)


async def test_the_api_is_in_the_servers_openapi_document(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()

    chat = spec["paths"]["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert {"model", "messages", "stream", "user"} <= set(schema["properties"])
    assert {"200", "400", "404", "503"} <= set(chat["responses"])
    for path, method in (
        ("/v1/models", "get"),
        ("/chat", "post"),
        ("/memory/search", "post"),
        ("/memory/add", "post"),
        ("/memory/core", "get"),
        ("/memory/core/{label}", "patch"),
        ("/status", "get"),
    ):
        assert method in spec["paths"][path], path
    add = spec["paths"]["/memory/add"]["post"]["requestBody"]["content"]["application/json"]
    assert add["schema"]["properties"]["memory_type"]["enum"] == ["archival", "core"]
    assert "/threads" in spec["paths"]  # merged with the LangGraph server's own API
    docs = await http.get("/docs")
    assert docs.status_code == 200 and "html" in docs.headers["content-type"]


async def test_the_api_runs_on_the_servers_own_persistence(tmp_path: Path) -> None:
    """Without the SQLite factories (as on LangGraph Platform) every route still works, on
    whatever checkpointer and store the server brings."""
    with OllamaDouble() as double:
        dev = DevServer(workdir=tmp_path, double=double, config=platform_style_config(tmp_path))
        try:
            dev.start()
            async with httpx.AsyncClient(base_url=dev.url, timeout=60) as http:
                user = {"X-User-Id": "platform-eve"}
                chat = await http.post(
                    "/v1/chat/completions",
                    json={"model": "memgpt", "messages": [{"role": "user", "content": "Hi"}]},
                    headers=user,
                )
                added = await http.post(
                    "/memory/add", json={"content": "Eve keeps bees."}, headers=user
                )
                found = await http.post("/memory/search", json={"query": "bees"}, headers=user)
                patched = await http.patch(
                    "/memory/core/human", json={"value": "Eve, a beekeeper."}, headers=user
                )
                status = (await http.get("/status", headers=user)).json()
        finally:
            dev.stop()

    assert chat.json()["choices"][0]["message"]["content"] == "You said: Hi"
    assert added.status_code == 201
    assert [r["content"] for r in found.json()["results"]] == ["Eve keeps bees."]
    assert patched.json()["value"] == "Eve, a beekeeper."
    assert status["recall_messages"] == 3 and status["archival_passages"] == 1
    assert not dev.checkpoint_db.exists() and not dev.archive_db.exists()


async def test_with_api_keys_the_key_picks_the_user(tmp_path: Path) -> None:
    """MEMGPT_API_KEYS (server/auth.py): an OpenAI client's api_key is the user; naming another
    user is refused, and so is a request without a key. Nothing is written for a refusal."""
    ada_key, bob_key = "ada-key-0123456789abcdef", "bob-key-0123456789abcdef"
    with OllamaDouble() as double:
        dev = DevServer(
            workdir=tmp_path,
            double=double,
            env={"MEMGPT_API_KEYS": f"{ada_key}:key-ada,{bob_key}:key-bob"},
        )
        try:
            dev.start()
            ada = openai.AsyncOpenAI(base_url=f"{dev.url}/v1", api_key=ada_key, max_retries=0)
            stranger = openai.AsyncOpenAI(
                base_url=f"{dev.url}/v1", api_key="not-a-key-of-this-server", max_retries=0
            )
            hello = [{"role": "user", "content": "Hello, I am Ada."}]

            reply = await ada.chat.completions.create(model="memgpt", messages=hello)
            with pytest.raises(openai.PermissionDeniedError, match="key-ada"):
                await ada.chat.completions.create(model="memgpt", user="key-bob", messages=hello)
            with pytest.raises(openai.AuthenticationError):
                await stranger.chat.completions.create(model="memgpt", messages=hello)
            with pytest.raises(openai.AuthenticationError):
                await stranger.models.list()
            async with httpx.AsyncClient(base_url=dev.url, timeout=60) as keyless:
                search = await keyless.post("/memory/search", json={"query": "Ada"})
                plain_keyless = await keyless.post("/chat", json={"message": "Hi"})
                plain_other = await keyless.post(
                    "/chat",
                    json={"message": "Hi", "user_id": "key-bob"},
                    headers={"Authorization": f"Bearer {ada_key}"},
                )
            bob = get_client(url=dev.url, api_key=bob_key)
            with pytest.raises(NotFoundError):  # Ada's thread does not exist for Bob
                await bob.threads.get_state(user_thread_id("key-ada"))
            ada_threads = await get_client(url=dev.url, api_key=ada_key).threads.search()
        finally:
            dev.stop()

    assert reply.choices[0].message.content == "You said: Hello, I am Ada."
    assert search.status_code == 401, search.text
    assert plain_keyless.status_code == 401, plain_keyless.text
    assert_error(plain_other, 403, "key-ada")
    assert [t["thread_id"] for t in ada_threads] == [user_thread_id("key-ada")]
    assert ada_threads[0]["metadata"]["owner"] == "key-ada"
    requests = [r for r in double.chat_requests() if r["messages"][-1]["role"] == "user"]
    assert len(requests) == 1  # the refused chats never reached the model
