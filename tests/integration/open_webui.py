"""Drive a real Open WebUI the way its browser page does: HTTP API plus a socket.io session.

Open WebUI (0.12) manages chats on the server: the page opens a socket.io connection (its
``session_id``), then posts each message to ``/api/chat/completions`` with the chat id, the
new user message (id, parent) and the id of the assistant message to fill. Open WebUI calls
the model, writes the answer into the chat as it streams, and runs its background tasks
(title, tags, follow-ups) through the same model. The test reads the outcome from the chat as
the page would after a reload: ``GET /api/v1/chats/{id}``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

BACKGROUND_TASKS = {"title_generation": True, "tags_generation": True, "follow_up_generation": True}
"""What the page asks for by default after an answer."""


@dataclass
class Browser:
    """One signed-in user's page: their token, socket session and chats."""

    base_url: str
    token: str
    http: httpx.AsyncClient = field(init=False)
    socket: socketio.AsyncClient = field(init=False)
    events: list[dict[str, Any]] = field(default_factory=list)

    async def open(self) -> Browser:
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
        )
        self.socket = socketio.AsyncClient(reconnection=False)
        self.socket.on("events", self._event)
        self.socket.on("chat-events", self._event)
        await self.socket.connect(
            self.base_url,
            socketio_path="/ws/socket.io",
            transports=["websocket"],
            auth={"token": self.token},
        )
        await self.socket.emit("user-join", {"auth": {"token": self.token}})
        return self

    async def close(self) -> None:
        await self.socket.disconnect()
        await self.http.aclose()

    async def _event(self, data: dict[str, Any]) -> None:
        self.events.append(data)

    async def models(self) -> list[str]:
        response = await self.http.get("/api/models")
        response.raise_for_status()
        return [model["id"] for model in response.json()["data"]]

    async def chat(self, chat_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/chats/{chat_id}")
        response.raise_for_status()
        return response.json()

    async def send(
        self,
        model: str,
        text: str,
        *,
        chat_id: str | None = None,
        history: list[dict[str, Any]] | None = None,
        parent_id: str | None = None,
        user_message_id: str | None = None,
    ) -> tuple[str, str, str]:
        """Post a message as the page does; returns (chat id, user message id, reply id).

        ``history`` is the branch shown before this message (role/content dicts), ``parent_id``
        the message it follows. Regenerate: the same ``user_message_id`` (an existing message)
        and its history; edit: a new message under the edited one's parent.
        """
        user_id = user_message_id or str(uuid.uuid4())
        reply_id = str(uuid.uuid4())
        body: dict[str, Any] = {
            "model": model,
            "stream": True,
            "messages": [*(history or []), {"role": "user", "content": text}],
            "user_message": {
                "id": user_id,
                "parentId": parent_id,
                "role": "user",
                "content": text,
                "models": [model],
            },
            "id": reply_id,
            "parent_id": parent_id,
            "session_id": self.socket.get_sid("/"),
            "background_tasks": BACKGROUND_TASKS,
            "features": {},
            "params": {},
        }
        if chat_id is not None:
            body["chat_id"] = chat_id
        response = await self.http.post("/api/chat/completions", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        return answer.get("chat_id") or chat_id or "", user_id, reply_id

    async def reply(self, chat_id: str, reply_id: str, timeout: float) -> dict[str, Any]:
        """The assistant message once Open WebUI has marked it done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = (await self.chat(chat_id))["chat"]["history"]["messages"]
            message = messages.get(reply_id) or {}
            if message.get("done"):
                return message
            await asyncio.sleep(0.5)
        raise AssertionError(f"no finished reply {reply_id} in chat {chat_id} after {timeout} s")

    async def title(self, chat_id: str, timeout: float) -> str:
        """The chat's title once Open WebUI has replaced its placeholder."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            title = (await self.chat(chat_id))["title"]
            if title != "New Chat":
                return title
            await asyncio.sleep(0.5)
        raise AssertionError(f"chat {chat_id} still has no title after {timeout} s")


async def sign_up(base_url: str, name: str) -> str:
    """A new account's token (the first account is the admin)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        response = await http.post(
            "/api/v1/auths/signup",
            json={"name": name, "email": f"{name.lower()}@example.com", "password": f"pw-{name}-1"},
        )
        response.raise_for_status()
        return response.json()["token"]


async def add_user(base_url: str, admin_token: str, name: str) -> str:
    """A second account, added by the admin as a plain user (new sign-ups wait for approval)."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {admin_token}"}
    ) as http:
        email, password = f"{name.lower()}@example.com", f"pw-{name}-1"
        response = await http.post(
            "/api/v1/auths/add",
            json={"name": name, "email": email, "password": password, "role": "user"},
        )
        response.raise_for_status()
        signed_in = await http.post(
            "/api/v1/auths/signin", json={"email": email, "password": password}
        )
        signed_in.raise_for_status()
        return signed_in.json()["token"]
