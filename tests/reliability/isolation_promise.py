"""Isolation: user A's archival passages and conversation are never returned to user B.

One real ``langgraph dev`` server on this repository's langgraph.json (custom auth in
``server/auth.py``), with API keys for two users (``MEMGPT_API_KEYS``) and the Ollama double
as the model. The double's responder turns commands in a user message into the agent's own tool
calls (``remember: X`` -> archival_memory_insert, ``search archive: X`` ->
archival_memory_search, ``search chat: X`` -> conversation_search) and answers a tool result
with ``send_message("Tool said: <result>")``, so the real tools run inside real server runs.

Alice stores passages and chats, through the SDK routes and our HTTP API. Then Bob, with his
own key, tries every way in: the agent's tools with queries quoting Alice's text verbatim (also
with a run context naming Alice), the server's thread/run/store routes on Alice's thread ids
and namespace (reads, writes, runs, copies, deletes), our ``/memory/*``, ``/status`` and
``/v1/chat/completions`` naming Alice; requests without a key or with a wrong key; and the
Python API (search, status, export) with Bob's ids on the server's files. Any of Alice's
distinctive words in any answer to Bob is a leak (an echo of Bob's own quoted query is
removed first); naming Alice's thread or user must be refused. Positive controls: Alice's own
searches must find her text, so "nothing found" means isolation, not a broken search.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import traceback
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from dev_server import DevServer
from ollama_double import Answer, OllamaDouble, send_message
from outcome import Outcome

ALICE, BOB = "alice", "bob"
# Alice's memory: every sentence carries words nobody else uses (the leak markers).
A_ARCHIVE_TOOL = "Alice keeps her spare key under the heron statue, code word marigold7731."
A_CHAT_SDK = "My childhood best friend was called Quokkazephyr Brightwater."
A_ARCHIVE_CHAT = "The lighthouse tangerine4402 is where Alice proposed to her partner."
A_CHAT_HTTP = "I am allergic to the rare fruit velvetplum9 and carry an epipen."
A_MEMORY_ADD = "Alice's passport number is ZX90817ALICE and it lives in the cedar box."
A_TEXTS = (A_ARCHIVE_TOOL, A_CHAT_SDK, A_ARCHIVE_CHAT, A_CHAT_HTTP, A_MEMORY_ADD)
MARKERS = (
    "marigold7731",
    "heron statue",
    "Quokkazephyr",
    "Brightwater",
    "tangerine4402",
    "velvetplum9",
    "ZX90817ALICE",
    "cedar box",
)
B_OWN = "Bob's bicycle is green and he rides it to the harbour every Sunday."
COMMANDS = {
    "remember: ": ("archival_memory_insert", "content"),
    "search archive: ": ("archival_memory_search", "query"),
    "search chat: ": ("conversation_search", "query"),
    # Alice's own searches use other words, so her messages never look like Bob's echoes.
    "find archive: ": ("archival_memory_search", "query"),
    "find chat: ": ("conversation_search", "query"),
}
BOB_COMMANDS = ("search archive: ", "search chat: ")
REFUSED = {401, 403, 404, 409, 422}
TIMEOUT = 120


def responder(request: dict[str, Any]) -> Answer:
    """The model: run the command in the newest user message, then report the tool's result."""
    for message in reversed(request.get("messages")):
        role, text = message.get("role"), str(message.get("content") or "")
        if role == "tool":
            return send_message("Tool said: " + text)
        if role == "user":
            for prefix, (tool, argument) in COMMANDS.items():
                if text.startswith(prefix):
                    arguments = {argument: text[len(prefix) :], "request_heartbeat": True}
                    return Answer(tool_calls=[{"name": tool, "arguments": arguments}])
            return send_message("Noted.")
    return send_message("Noted.")


def without_bob_echoes(text: str) -> str:
    """``text`` without the forms in which Bob's own quotes of Alice's text come back to him.

    Bob's messages (``search chat: <A's text>``) are his own data; tools echo a query
    (``match "<q>"``, ``for "<q>"``) and JSON bodies and tool calls carry it as ``"query"``.
    Only those forms are removed: Alice's passages and messages (bare, in a result line or a
    JSON ``content`` field, or as ``remember: ...`` / ``find chat: ...``) still count, even when
    Bob quoted them verbatim.
    """
    for q in A_TEXTS:
        for form in (
            *(command + q for command in BOB_COMMANDS),
            f'match "{q}"',
            f'for "{q}"',
            f'match \\"{q}\\"',
            f'for \\"{q}\\"',
            f'"query": "{q}"',
            f'"query":"{q}"',
        ):
            text = text.replace(form, "")
    return text


def leaked_markers(text: str) -> list[str]:
    """Alice's distinctive words in ``text``, once Bob's own echoes are taken out."""
    text = without_bob_echoes(text).lower()
    return [marker for marker in MARKERS if marker.lower() in text]


@dataclass
class Tally:
    """Every query Bob (or nobody) tried, by channel, and what came back."""

    outcome: Outcome
    tried: Counter[str] = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)
    refused_unauthenticated: int = 0
    controls: int = 0

    def leak(self, channel: str, what: str) -> None:
        self.leaks.append(f"{channel}: {what}")
        self.outcome.cross_user_leaks += 1
        self.outcome.problems.append(f"LEAK via {channel}: {what}")

    def check_text(self, channel: str, label: str, text: str) -> None:
        self.tried[channel] += 1
        if found := leaked_markers(text):
            stripped = without_bob_echoes(text)
            at = stripped.lower().find(found[0].lower())
            context = stripped[max(0, at - 150) : at + 80]
            self.leak(channel, f"{label} returned {found}: ...{context}...")

    def check_response(
        self,
        channel: str,
        label: str,
        response: httpx.Response,
        refused: bool = True,
    ) -> None:
        """One HTTP query by Bob: no marker in the body; refused if it named Alice's data. A
        server error is a failure either way: a 500 hides whether the data was safe."""
        self.check_text(channel, label, response.text)
        self.outcome.expect(
            response.status_code < 500,
            f"{channel}: {label} answered {response.status_code} (a server error, not a "
            f"refusal): {response.text[:200]}",
        )
        if refused:
            self.outcome.expect(
                response.status_code in REFUSED,
                f"{channel}: {label} answered {response.status_code}, not a refusal: "
                f"{response.text[:200]}",
            )


def tool_results(values: dict[str, Any], name: str) -> list[str]:
    return [
        str(m.get("content"))
        for m in values.get("messages") or []
        if m.get("type") == "tool" and m.get("name") == name
    ]


class Users:
    """HTTP clients for Alice, Bob and strangers on one server."""

    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.keys = keys
        self.clients = {
            user: httpx.Client(
                base_url=url, timeout=TIMEOUT, headers={"Authorization": f"Bearer {key}"}
            )
            for user, key in keys.items()
        }
        self.anonymous = httpx.Client(base_url=url, timeout=TIMEOUT)
        self.wrong_key = httpx.Client(
            base_url=url, timeout=TIMEOUT, headers={"X-Api-Key": "wrong-" + secrets.token_hex(12)}
        )

    def __getitem__(self, user: str) -> httpx.Client:
        return self.clients[user]

    def close(self) -> None:
        for client in (*self.clients.values(), self.anonymous, self.wrong_key):
            client.close()


def ok(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        raise AssertionError(f"{what}: {response.status_code} {response.text[:500]}")
    return response.json()


def new_thread(client: httpx.Client) -> str:
    return ok(client.post("/threads", json={}), "create thread")["thread_id"]


def run_wait(
    client: httpx.Client,
    thread_id: str,
    text: str | list[str],
    context: dict[str, Any] | None = None,
) -> httpx.Response:
    texts = [text] if isinstance(text, str) else text
    body: dict[str, Any] = {
        "assistant_id": "memgpt",
        "input": {"messages": [{"role": "user", "content": t} for t in texts]},
    }
    if context is not None:
        body["context"] = context
    return client.post(f"/threads/{thread_id}/runs/wait", json=body)


def chat(client: httpx.Client, text: str, **extra: Any) -> httpx.Response:
    body = {"model": "memgpt", "messages": [{"role": "user", "content": text}], **extra}
    return client.post("/v1/chat/completions", json=body)


@dataclass
class AliceData:
    sdk_thread: str = ""
    chat_thread: str = ""
    run_id: str = ""
    passage_key: str = ""


def alice_writes(users: Users, outcome: Outcome) -> AliceData:
    """Alice's memory, through each way in; each write is checked to have landed."""
    from langgraph_memgpt.server.backend import user_thread_id

    alice = users[ALICE]
    data = AliceData(sdk_thread=new_thread(alice), chat_thread=user_thread_id(ALICE))
    values = ok(run_wait(alice, data.sdk_thread, "remember: " + A_ARCHIVE_TOOL), "alice insert")
    outcome.expect(
        any(
            "Stored in archival memory" in r for r in tool_results(values, "archival_memory_insert")
        ),
        f"Alice's archival insert did not run: {tool_results(values, 'archival_memory_insert')}",
    )
    ok(run_wait(alice, data.sdk_thread, A_CHAT_SDK), "alice chat (sdk)")
    ok(chat(alice, "remember: " + A_ARCHIVE_CHAT), "alice insert (chat api)")
    ok(chat(alice, A_CHAT_HTTP), "alice chat (chat api)")
    ok(alice.post("/memory/add", json={"content": A_MEMORY_ADD}), "alice /memory/add")
    runs = ok(alice.get(f"/threads/{data.sdk_thread}/runs"), "alice runs")
    data.run_id = runs[0]["run_id"] if runs else ""
    found = ok(
        alice.post("/store/items/search", json={"namespace_prefix": ["archival", ALICE]}),
        "alice store listing",
    )["items"]
    data.passage_key = found[0]["key"] if found else ""
    outcome.expect(len(found) == 3, f"Alice's archive has {len(found)} passages, not 3")
    return data


def alice_controls(users: Users, data: AliceData, tally: Tally) -> None:
    """Alice's own searches find her text: the same searches as Bob's do work."""
    alice = users[ALICE]
    checks: list[tuple[str, str]] = []
    values = ok(run_wait(alice, data.sdk_thread, "find archive: " + A_ARCHIVE_CHAT), "ctl 1")
    checks.append(("archival tool", tool_results(values, "archival_memory_search")[-1]))
    values = ok(run_wait(alice, data.sdk_thread, "find chat: " + A_CHAT_SDK), "ctl 2")
    checks.append(("conversation tool", tool_results(values, "conversation_search")[-1]))
    reply = ok(chat(alice, "find chat: " + A_CHAT_HTTP), "ctl 3")
    checks.append(("chat api", reply["choices"][0]["message"]["content"]))
    body = ok(alice.post("/memory/search", json={"query": A_MEMORY_ADD}), "ctl 4")
    checks.append(("/memory/search", json.dumps(body)))
    for label, text in checks:
        tally.controls += 1
        tally.outcome.expect(
            bool(leaked_markers(text)),
            f"control: Alice's own {label} search did not find her text: {text[:300]}",
        )


def bob_through_tools(users: Users, tally: Tally) -> None:
    """The agent's tools, run as Bob on his own threads, quoting Alice's text verbatim.

    Each conversation search runs on a fresh thread holding one message of Bob's own and the
    asking turn, so its results can only be Bob's line or something of Alice's (no earlier
    echoes of Bob's quotes, which would be his own data anyway).
    """
    bob = users[BOB]
    thread = new_thread(bob)
    ok(run_wait(bob, thread, "remember: " + B_OWN), "bob insert")
    contexts: list[tuple[str, dict[str, Any] | None]] = [
        ("own context", None),
        ("context naming alice", {"user_id": ALICE}),
        ("context naming alice, thread scope", {"user_id": ALICE, "archival_scope": "thread"}),
    ]
    for text in A_TEXTS:
        for label, context in contexts:
            for command, tool in (
                ("search archive: ", "archival_memory_search"),
                ("search chat: ", "conversation_search"),
            ):
                what = f"{tool} ({label}) quoting {text[:30]!r}"
                if tool == "conversation_search":
                    target = new_thread(bob)
                    turn = ["I like cycling to the harbour.", command + text]
                else:
                    target, turn = thread, [command + text]
                response = run_wait(bob, target, turn, context)
                if response.status_code >= 300:
                    tally.check_response("tools", what, response, refused=False)
                    continue
                results = tool_results(response.json(), tool)
                tally.check_text("tools", what, results[-1] if results else "")
                ran = tally.outcome.expect(bool(results), f"tools: {what}: the tool did not run")
                if ran and tool == "archival_memory_search" and context is None:
                    # The search did return passages: Bob's own, the nearest he has.
                    tally.outcome.expect(
                        "bicycle" in results[-1], f"tools: {what}: Bob's own passage missing"
                    )
    # The chat API's agent, as Bob: its reply carries the tool's result.
    for text in A_TEXTS:
        response = chat(bob, "search archive: " + text)
        tally.check_response("tools", f"chat api archival search {text[:30]!r}", response, False)
        tally.outcome.expect(
            response.status_code == 200 and "bicycle" in response.text,
            f"Bob's chat-API archival search did not return his own passage: {response.text}",
        )


def bob_on_alices_threads(users: Users, data: AliceData, tally: Tally) -> None:
    """The server's own routes, as Bob, naming Alice's thread ids, runs and namespace."""
    from langgraph_memgpt.server.backend import user_thread_id

    bob = users[BOB]
    run_body = {
        "assistant_id": "memgpt",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
    }
    for thread in (data.sdk_thread, data.chat_thread):
        requests: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", f"/threads/{thread}", None),
            ("GET", f"/threads/{thread}/state", None),
            ("POST", f"/threads/{thread}/state/checkpoint", {"checkpoint": {}}),
            ("GET", f"/threads/{thread}/history", None),
            ("POST", f"/threads/{thread}/history", {"limit": 100}),
            ("GET", f"/threads/{thread}/runs", None),
            ("GET", f"/threads/{thread}/runs/{data.run_id}", None),
            ("GET", f"/threads/{thread}/runs/{data.run_id}/join", None),
            ("POST", f"/threads/{thread}/runs/{data.run_id}/cancel", None),
            ("POST", f"/threads/{thread}/copy", None),
            ("PATCH", f"/threads/{thread}", {"metadata": {"owner": BOB}}),
            ("POST", f"/threads/{thread}/state", {"values": {"summary": None}}),
            ("POST", f"/threads/{thread}/runs", run_body),
            ("POST", f"/threads/{thread}/runs/wait", run_body),
            ("POST", f"/threads/{thread}/runs/stream", run_body),
            ("DELETE", f"/threads/{thread}", None),
            ("POST", "/threads", {"thread_id": thread, "if_exists": "do_nothing"}),
            ("POST", "/runs/wait", {**run_body, "thread_id": thread}),
            ("POST", "/runs/wait", {**run_body, "config": {"configurable": {"thread_id": thread}}}),
        ]
        for method, path, body in requests:
            response = bob.request(method, path, json=body) if body else bob.request(method, path)
            refused = not path.startswith("/runs/wait")  # a stateless run is Bob's own
            tally.check_response("http", f"{method} {path}", response, refused)
    # The consolidate graph reads the thread its input names, past the thread filter: a run
    # or cron of it naming Alice's thread must be refused, stateless or not.
    for thread in (data.sdk_thread, data.chat_thread):
        consolidation = {"assistant_id": "consolidate", "input": {"thread_id": thread}}
        for path, body in (
            ("/runs/wait", consolidation),
            ("/runs/crons", {**consolidation, "schedule": "0 3 * * *"}),
        ):
            response = bob.post(path, json=body)
            tally.check_response("http", f"POST {path} consolidating Alice's thread", response)
    # A2A (JSON-RPC; a refusal is an "error" member): Alice's thread as the A2A context.
    assistant = ok(bob.post("/assistants/search", json={}), "assistants")[0]["assistant_id"]
    for thread in (data.sdk_thread, data.chat_thread):
        for method, params in (
            (
                "message/send",
                {
                    "message": {
                        "role": "user",
                        "messageId": secrets.token_hex(8),
                        "contextId": thread,
                        "parts": [{"kind": "text", "text": "search chat: " + A_CHAT_SDK}],
                    }
                },
            ),
            ("tasks/get", {"id": f"{thread}:{data.run_id}"}),
        ):
            rpc = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            response = bob.post(f"/a2a/{assistant}", json=rpc)
            tally.check_response("http", f"A2A {method} on Alice's thread", response, False)
            tally.outcome.expect(
                response.status_code in REFUSED or "error" in response.json(),
                f"A2A {method} on Alice's thread was served: {response.text[:200]}",
            )
    # Searches over everything: allowed, but only Bob's own may come back.
    for method, path, body in (
        ("POST", "/threads/search", {"limit": 100}),
        ("POST", "/threads/search", {"metadata": {"owner": ALICE}}),
        ("POST", "/threads/search", {"metadata": {"user_id": ALICE}}),
        ("POST", "/threads/search", {"ids": [data.sdk_thread, data.chat_thread]}),
        ("POST", "/runs/search", {"limit": 100}),
    ):
        response = bob.request(method, path, json=body)
        tally.check_text("http", f"{method} {path} {body}", response.text)
        if response.status_code == 200 and path == "/threads/search":
            ids = {t["thread_id"] for t in response.json()}
            if ids & {data.sdk_thread, data.chat_thread}:
                tally.leak("http", f"{path} {body} listed Alice's thread")
    # Bob creating Alice's chat-API thread id ahead of her would hijack her conversation.
    carol = user_thread_id("carol")
    response = bob.post("/threads", json={"thread_id": carol})
    tally.check_response("http", "POST /threads with carol's conversation thread id", response)
    response = bob.post(f"/threads/{carol}/runs/wait", json={**run_body, "if_not_exists": "create"})
    tally.check_response("http", "a run creating carol's conversation thread", response)
    # The store, on Alice's namespace.
    namespace = ["archival", ALICE]
    for method, path, body, params in (
        ("GET", "/store/items", None, {"namespace": "archival.alice", "key": data.passage_key}),
        ("POST", "/store/items/search", {"namespace_prefix": namespace}, None),
        (
            "POST",
            "/store/items/search",
            {"namespace_prefix": namespace, "query": A_MEMORY_ADD},
            None,
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": namespace, "key": "x", "value": {"content": "B"}},
            None,
        ),
        ("DELETE", "/store/items", {"namespace": namespace, "key": data.passage_key}, None),
        ("POST", "/store/items/search", {"namespace_prefix": [ALICE]}, None),
    ):
        response = bob.request(method, path, json=body, params=params)
        tally.check_response("http", f"{method} {path} {body or params}", response)
    # Prefixes wider than Bob's archive are narrowed to it: Bob's own passages, nothing else.
    for body in (
        {"namespace_prefix": []},
        {"namespace_prefix": ["archival"]},
        {"namespace_prefix": [], "query": A_ARCHIVE_TOOL},
        {"namespace_prefix": ["archival"], "query": A_MEMORY_ADD, "limit": 100},
    ):
        response = bob.post("/store/items/search", json=body)
        tally.check_response("http", f"POST /store/items/search {body}", response, refused=False)
        tally.outcome.expect(response.status_code == 200, f"store search {body}: {response.text}")
    for body in ({}, {"prefix": ["archival"]}, {"prefix": ["archival", ALICE]}):
        response = bob.post("/store/namespaces", json=body)
        tally.check_text("http", f"POST /store/namespaces {body}", response.text)
        if response.status_code == 200 and ["archival", ALICE] in response.json().get(
            "namespaces", []
        ):
            tally.leak("http", f"/store/namespaces {body} listed Alice's archive")


def bob_on_our_api(users: Users, tally: Tally) -> None:
    """Our HTTP API (server/): Bob's key serves Bob; naming Alice is refused."""
    bob = users[BOB]
    for text in A_TEXTS:  # Bob's own archive, queried with Alice's text: allowed, no leak
        response = bob.post("/memory/search", json={"query": text, "limit": 50})
        tally.check_response("api", f"/memory/search {text[:30]!r}", response, refused=False)
        tally.outcome.expect(response.status_code == 200, f"/memory/search: {response.text}")
    naming_alice: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
        ("POST", "/memory/search", {"query": A_MEMORY_ADD, "user": ALICE}, {}),
        ("POST", "/memory/search", {"query": A_MEMORY_ADD}, {"X-User-Id": ALICE}),
        ("POST", "/memory/search", {"query": A_MEMORY_ADD}, {"X-OpenWebUI-User-Id": ALICE}),
        ("POST", "/memory/add", {"content": "Bob was here.", "user": ALICE}, {}),
        ("GET", "/memory/core?user=alice", None, {}),
        ("GET", "/memory/core", None, {"X-User-Id": ALICE}),
        ("PATCH", "/memory/core/human", {"value": "Bob was here.", "user": ALICE}, {}),
        ("GET", "/status?user=alice", None, {}),
        ("POST", "/memory/consolidate", {"user": ALICE}, {}),
        ("POST", "/memory/consolidate", {}, {"X-User-Id": ALICE}),
        ("GET", "/status", None, {"X-User-Id": ALICE}),
    ]
    for method, path, body, headers in naming_alice:
        response = bob.request(method, path, json=body, headers=headers)
        tally.check_response("api", f"{method} {path} {headers}", response)
    for extra, headers in (({"user": ALICE}, {}), ({}, {"X-User-Id": ALICE})):
        for text in (A_CHAT_HTTP, A_ARCHIVE_CHAT):
            response = bob.post(
                "/v1/chat/completions",
                json={
                    "model": "memgpt",
                    "messages": [{"role": "user", "content": "search chat: " + text}],
                    **extra,
                },
                headers=headers,
            )
            tally.check_response("api", f"/v1/chat/completions naming alice {extra}", response)
    for path in ("/memory/core", "/status"):  # Bob's own: fine, and nothing of Alice's
        response = bob.get(path)
        tally.check_response("api", f"GET {path} (own)", response, refused=False)
    response = bob.post("/memory/consolidate", json={})  # Bob's own thread, Bob's memory
    tally.check_response("api", "POST /memory/consolidate (own)", response, refused=False)
    tally.outcome.expect(response.status_code == 200, f"own consolidation: {response.text}")


def strangers(users: Users, data: AliceData, tally: Tally) -> None:
    """No key, or a wrong one: refused everywhere (401/403)."""
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/threads/{data.sdk_thread}/state", None),
        ("POST", "/threads/search", {}),
        ("POST", "/threads", {}),
        ("POST", "/assistants/search", {}),
        ("POST", "/store/items/search", {"namespace_prefix": ["archival", ALICE]}),
        ("POST", "/memory/search", {"query": A_MEMORY_ADD, "user": ALICE}),
        ("GET", "/memory/core?user=alice", None),
        ("GET", "/status?user=alice", None),
        ("GET", "/v1/models", None),
        (
            "POST",
            "/v1/chat/completions",
            {"model": "memgpt", "user": ALICE, "messages": [{"role": "user", "content": "hi"}]},
        ),
    ]
    for client, who in ((users.anonymous, "no key"), (users.wrong_key, "wrong key")):
        for headers in ({}, {"x-auth-scheme": "langsmith"}):  # Studio's shortcut, spoofed
            for method, path, body in requests:
                response = client.request(method, path, json=body, headers=headers)
                label = f"{who}{' +studio header' if headers else ''}: {method} {path}"
                tally.check_text("unauthenticated", label, response.text)
                if tally.outcome.expect(
                    response.status_code in (401, 403),
                    f"{label} answered {response.status_code}: {response.text[:200]}",
                ):
                    tally.refused_unauthenticated += 1


def alice_intact(users: Users, data: AliceData, outcome: Outcome) -> None:
    """Bob's write attempts (delete, patch, state update, store put/delete) changed nothing."""
    alice = users[ALICE]
    for thread, text in ((data.sdk_thread, A_CHAT_SDK), (data.chat_thread, A_CHAT_HTTP)):
        response = alice.get(f"/threads/{thread}/state")
        outcome.expect(
            response.status_code == 200 and text in response.text,
            f"Alice's thread {thread} lost her message after Bob's attempts: {response.text[:200]}",
        )
        thread_meta = ok(alice.get(f"/threads/{thread}"), "alice thread")["metadata"]
        outcome.expect(thread_meta.get("owner") == ALICE, f"owner changed: {thread_meta}")
    items = ok(
        alice.post("/store/items/search", json={"namespace_prefix": ["archival", ALICE]}),
        "alice store",
    )["items"]
    outcome.expect(
        len(items) == 3 and all("Bob" not in json.dumps(i["value"]) for i in items),
        f"Alice's archive changed after Bob's attempts: {[i['value'] for i in items]}",
    )


def python_api(
    server: DevServer, owners: dict[str, str], alice_messages: set[str], tally: Tally
) -> None:
    """The package's Python API with Bob's ids, on the server's own files (server stopped)."""
    from langgraph_memgpt.archival import SqliteVecStore
    from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
    from langgraph_memgpt.graph import Context
    from langgraph_memgpt.memory.archive import hybrid_search
    from langgraph_memgpt.memory.recall import search_conversation
    from langgraph_memgpt.memory.status import collect_status
    from langgraph_memgpt.portability import export_agent
    from langgraph_memgpt.server.backend import user_thread_id

    uri = f"file:{server.checkpoint_db}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        threads = [row[0] for row in db.execute("SELECT DISTINCT thread_id FROM checkpoints")]
    store = SqliteVecStore(server.archive_db)
    try:
        with open_sqlite_checkpointer(server.checkpoint_db) as saver:
            bob_threads = [t for t in threads if owners.get(t) == BOB]
            tally.outcome.expect(len(bob_threads) >= 2, f"Bob's threads not found: {bob_threads}")
            bob_threads.append(user_thread_id(BOB))
            for text in A_TEXTS:
                for thread in sorted(set(bob_threads)):
                    page = search_conversation(saver, thread, text, limit=50)
                    label = f"search_conversation({thread[:8]})"
                    tally.check_text("python", label, "\n".join(h.text for h in page.hits))
                    if theirs := {h.message_id for h in page.hits} & alice_messages:
                        tally.leak("python", f"{label} returned Alice's messages {theirs}")
                hits = hybrid_search(store, ("archival", BOB), text)
                tally.check_text("python", "hybrid_search(bob)", repr(hits))
                thread_hits = hybrid_search(store, ("archival", BOB, bob_threads[0]), text)
                tally.check_text("python", "hybrid_search(bob, thread)", repr(thread_hits))
            for thread in sorted(set(bob_threads)):
                info = collect_status(
                    checkpointer=saver,
                    store=store,
                    thread_id=thread,
                    user_id=BOB,
                    context=Context(user_id=BOB),
                )
                tally.check_text("python", "collect_status(bob)", json.dumps(info, default=str))
                document = export_agent(
                    checkpointer=saver, store=store, thread_id=thread, user_id=BOB
                )
                label = f"export_agent(bob, {thread[:8]})"
                tally.check_text("python", label, json.dumps(document, default=str))
                messages = document.get("history", []) + document.get("queue", [])
                ids = {(m.get("data") or {}).get("id") for m in messages}
                if theirs := ids & alice_messages:
                    tally.leak("python", f"{label} exported Alice's messages {theirs}")
    finally:
        store.close()


def alice_message_ids(users: Users, data: AliceData) -> set[str]:
    ids = set()
    for thread in (data.sdk_thread, data.chat_thread):
        state = ok(users[ALICE].get(f"/threads/{thread}/state"), "alice state")
        ids |= {m["id"] for m in state["values"]["messages"]}
    return ids


def thread_owners(users: Users) -> dict[str, str]:
    """Which thread is whose, as the server tells each user (their own threads only)."""
    owners = {}
    for user, client in users.clients.items():
        for thread in ok(client.post("/threads/search", json={"limit": 1000}), "threads"):
            owners[thread["thread_id"]] = user
    return owners


def figure(tally: Tally) -> str:
    total = sum(tally.tried.values()) - tally.tried["unauthenticated"]
    by_channel = ", ".join(
        f"{tally.tried[c]} {name}"
        for c, name in (
            ("tools", "tools"),
            ("python", "Python API"),
            ("http", "LangGraph routes"),
            ("api", "our HTTP API"),
        )
    )
    leaks = len(tally.leaks)
    unauth = tally.tried["unauthenticated"]
    refused = (
        "refused"
        if tally.refused_unauthenticated == unauth
        else (f"{tally.refused_unauthenticated}/{unauth} refused")
    )
    return (
        f"{total} isolation queries as user B ({by_channel}; incl. A's thread ids, quoting A "
        f"verbatim): {leaks} returned A's memory; {unauth} unauthenticated: {refused}; "
        f"{tally.controls} controls as A found A's text"
    )


def check(workdir: Path) -> Outcome:
    outcome = Outcome("isolation")
    tally = Tally(outcome)
    keys = {ALICE: "alice-" + secrets.token_urlsafe(18), BOB: "bob-" + secrets.token_urlsafe(18)}
    # carol has a key but never calls: Bob must not be able to take her thread id.
    api_keys = ",".join(f"{k}:{u}" for u, k in keys.items())
    api_keys += ",carol-" + secrets.token_urlsafe(18) + ":carol"
    double = OllamaDouble(responder=responder).start()
    server = DevServer(workdir=workdir, double=double, env={"MEMGPT_API_KEYS": api_keys})
    users: Users | None = None
    try:
        server.start()
        users = Users(server.url, keys)
        steps: list[tuple[str, Callable[[], Any]]] = []
        data = alice_writes(users, outcome)
        steps = [
            ("controls", lambda: alice_controls(users, data, tally)),
            ("tools", lambda: bob_through_tools(users, tally)),
            ("thread routes", lambda: bob_on_alices_threads(users, data, tally)),
            ("our api", lambda: bob_on_our_api(users, tally)),
            ("strangers", lambda: strangers(users, data, tally)),
            ("intact", lambda: alice_intact(users, data, outcome)),
        ]
        for name, step in steps:
            try:
                step()
            except Exception:  # one broken step is a problem, the others still run
                outcome.problems.append(f"{name} step failed: {traceback.format_exc(limit=3)}")
        owners = thread_owners(users)
        alice_messages = alice_message_ids(users, data)
        users.close()
        users = None
        server.stop()
        try:
            python_api(server, owners, alice_messages, tally)
        except Exception:
            outcome.problems.append(f"python API step failed: {traceback.format_exc(limit=3)}")
    except BaseException as error:  # pytest.fail() from DevServer is a BaseException
        if isinstance(error, KeyboardInterrupt):
            raise
        outcome.problems.append(f"did not run: {error!r}\n{server.output()[-3000:]}")
    finally:
        if users is not None:
            users.close()
        server.stop()
        double.stop()
    outcome.figure = figure(tally)
    return outcome
