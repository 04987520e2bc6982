"""Open WebUI, as installed from PyPI and left at its defaults, chatting with the agent.

Two real servers: ``langgraph dev`` on this repository with the embedded llama.cpp engine
(SmolLM2-135M, the fastest packaged model: this test is about the plumbing, not the answers)
and Open WebUI pointed at its ``/v1``, with the settings the README gives. The test is the
browser: it signs users up, opens socket.io sessions and posts messages as the page does
(``open_webui.py``), then checks what the user sees in Open WebUI and what the agent keeps.
At the end headless Chromium (Debian's package) renders the chat, saved as an artifact.

``make test`` installs Open WebUI into its own virtual environment (``.venv-openwebui``) and
Chromium; ``MEMGPT_OPEN_WEBUI`` and ``MEMGPT_CHROMIUM`` point elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dev_server import DevServer
from langgraph_memgpt.server.backend import user_thread_id
from langgraph_sdk import get_client
from memgpt_integration import REPO_ROOT, clean_env, get_free_port, stop_process
from ollama_double import OllamaDouble
from open_webui import Browser, add_user, sign_up

pytestmark = pytest.mark.integration

OPEN_WEBUI = Path(
    os.environ.get("MEMGPT_OPEN_WEBUI") or REPO_ROOT / ".venv-openwebui" / "bin" / "open-webui"
)
CHROMIUM = os.environ.get("MEMGPT_CHROMIUM") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("MEMGPT_ARTIFACTS") or REPO_ROOT / "artifacts")
SCREENSHOT = ARTIFACTS / "open-webui-chat.png"
MODEL = "memgpt"
TURN_TIMEOUT = 600
STARTUP_TIMEOUT = 240

PEPPER = "My cat is called Pepper."
QUESTION = "What is my cat called?"
EDITED = "What is the name of my cat?"
REX = "My dog is called Rex."


def open_webui_env(data_dir: Path, port: int, agent_url: str) -> dict[str, str]:
    """The README's Open WebUI settings (everything else at its defaults)."""
    return clean_env(
        DATA_DIR=str(data_dir),
        PORT=str(port),
        OPENAI_API_BASE_URL=f"{agent_url}/v1",
        OPENAI_API_KEY="none",
        ENABLE_OLLAMA_API="false",
        ENABLE_FORWARD_USER_INFO_HEADERS="true",
        BYPASS_MODEL_ACCESS_CONTROL="true",
        OFFLINE_MODE="true",
        WEBUI_SECRET_KEY="memgpt-open-webui-test",
    )


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    double = OllamaDouble().start()  # unused: the agent's model is the embedded engine
    dev = DevServer(
        workdir=tmp_path_factory.mktemp("agent"),
        double=double,
        # Three model calls at most per turn and short answers: a turn of a 135M model on
        # 2 cores takes seconds, so the whole chat fits the suite's time.
        env={
            "MEMGPT_MODEL": "llamacpp:smollm2-135m",
            "MEMGPT_MAX_STEPS": "3",
            "MEMGPT_MAX_OUTPUT_TOKENS": "128",
        },
    )
    try:
        yield dev.start()
    finally:
        dev.stop()
        double.stop()


@pytest.fixture(scope="module")
def webui(agent: DevServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not OPEN_WEBUI.exists():
        pytest.fail(f"Open WebUI is not installed at {OPEN_WEBUI}: `make test` installs it")
    folder = tmp_path_factory.mktemp("open-webui")
    port = get_free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "open-webui.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(OPEN_WEBUI), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            env=open_webui_env(folder / "data", port, agent.url),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"Open WebUI exited:\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Open WebUI did not start:\n{log.read_text()[-4000:]}")
            time.sleep(1)
        yield url
    finally:
        stop_process(process, timeout=30)


async def agent_state(agent: DevServer, user_id: str) -> dict[str, Any]:
    state = await get_client(url=agent.url).threads.get_state(user_thread_id(user_id))
    return state["values"] or {}


async def said(agent: DevServer, user_id: str) -> list[str]:
    """What the agent's thread holds as the user's messages."""
    messages = (await agent_state(agent, user_id)).get("messages") or []
    return [m["content"] for m in messages if m["type"] == "human"]


async def finished(browser: Browser, chat_id: str, reply_id: str) -> str:
    """The reply's text once Open WebUI shows it finished, and not as an error (a 409, say).

    Its wording is SmolLM2's and may even be empty; what is checked is that it arrived."""
    reply = await browser.reply(chat_id, reply_id, TURN_TIMEOUT)
    assert not reply.get("error"), f"Open WebUI shows an error: {reply['error']}"
    return reply["content"]


async def test_open_webui_at_its_defaults_chats_with_the_agent(
    agent: DevServer, webui: str
) -> None:
    ada = await Browser(webui, await sign_up(webui, "Ada")).open()
    try:
        ada_id = (await ada.http.get("/api/v1/auths/")).json()["id"]
        assert MODEL in await ada.models()

        # A new chat: Open WebUI starts its title task before the message; both succeed.
        chat, _, first_reply = await ada.send(MODEL, PEPPER)
        first_answer = await finished(ada, chat, first_reply)
        title = await ada.title(chat, TURN_TIMEOUT)
        assert title.strip()

        history = [
            {"role": "user", "content": PEPPER},
            {"role": "assistant", "content": first_answer},
        ]
        _, asked, asked_reply = await ada.send(
            MODEL, QUESTION, chat_id=chat, history=history, parent_id=first_reply
        )
        await finished(ada, chat, asked_reply)
        assert await said(agent, ada_id) == [PEPPER, QUESTION]
        answers_before = [m["id"] for m in (await agent_state(agent, ada_id))["messages"]][2:]

        # Regenerate: the same user message again, answered on a new branch, not twice.
        _, _, regenerated = await ada.send(
            MODEL,
            QUESTION,
            chat_id=chat,
            history=history,
            parent_id=first_reply,
            user_message_id=asked,
        )
        await finished(ada, chat, regenerated)
        state = await agent_state(agent, ada_id)
        assert await said(agent, ada_id) == [PEPPER, QUESTION]
        assert not set(answers_before) & {m["id"] for m in state["messages"]}

        # Edit: the second message changed; the agent's thread follows the edited branch.
        _, _, edited_reply = await ada.send(
            MODEL, EDITED, chat_id=chat, history=history, parent_id=first_reply
        )
        await finished(ada, chat, edited_reply)
        assert await said(agent, ada_id) == [PEPPER, EDITED]

        # Background tasks (title, tags, follow-ups) never reached the agent's memory.
        state = await agent_state(agent, ada_id)
        assert "### Task" not in json.dumps(state)
        async with httpx.AsyncClient(base_url=agent.url, timeout=60) as http:
            found = await http.post(
                "/memory/search",
                json={"query": "### Task: generate a title for the chat history"},
                headers={"X-User-Id": ada_id},
            )
        assert found.status_code == 200, found.text
        assert not [hit for hit in found.json()["results"] if "### Task" in hit["content"]]
        assert all(turn["chat_id"] == chat for turn in state["chat_turns"])

        # A second user has a thread of their own.
        bob = await Browser(webui, await add_user(webui, ada.token, "Bob")).open()
        try:
            bob_id = (await bob.http.get("/api/v1/auths/")).json()["id"]
            bob_chat, _, bob_reply = await bob.send(MODEL, REX)
            await finished(bob, bob_chat, bob_reply)
        finally:
            await bob.close()
        assert await said(agent, bob_id) == [REX]
        assert await said(agent, ada_id) == [PEPPER, EDITED]

        await screenshot(webui, ada.token, chat, SCREENSHOT)
        assert SCREENSHOT.stat().st_size > 10_000
    finally:
        await ada.close()


async def screenshot(base_url: str, token: str, chat_id: str, target: Path) -> None:
    """The chat as Open WebUI's page shows it, rendered by headless Chromium."""
    from playwright.async_api import async_playwright

    target.parent.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 860})
            # Signed in before the page's scripts run: a first navigation to set the token,
            # interrupted by the second while the app still started, once left it blank.
            await context.add_init_script(
                f"try {{ localStorage.setItem('token', {json.dumps(token)}) }} catch (e) {{}}"
            )
            page = await context.new_page()
            await page.goto(f"{base_url}/c/{chat_id}")
            await page.get_by_text(EDITED).first.wait_for(timeout=120_000)
            # A new user first sees Open WebUI's release notes; close them as a user would.
            notes = page.get_by_role("button", name="Okay, Let's Go!")
            if await notes.count():
                await notes.first.click()
            await page.wait_for_timeout(2_000)  # let the reply's markdown render
            await page.screenshot(path=str(target))
        finally:
            await browser.close()
