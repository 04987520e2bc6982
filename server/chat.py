"""``POST /v1/chat/completions`` and ``GET /v1/models``: the agent as an OpenAI-compatible model.

Open WebUI and any OpenAI client can chat with the memory agent. The agent keeps its own
history, so only the newest user message of a request is used (front ends resend the whole
conversation; their system prompt and earlier turns are ignored). The user is the API key's
when the server has keys (``server/auth.py``), else the ``user`` field or the ``X-User-Id``
header picks them; each user has one thread, created on first contact.

A request becomes one run of the ``memgpt`` graph on that thread, streamed as ``updates``: the
reply is what the agent sends with ``send_message`` (or a plain answer), so a streamed answer
arrives one agent message at a time, each as soon as the model produced it. Several messages
in one turn are joined with a blank line.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.server.backend import (
    GRAPH_ID,
    ensure_user_thread,
    graph_client,
    resolve_user,
)
from langgraph_memgpt.server.errors import ApiError, parse_json_body
from langgraph_memgpt.server.openapi import documented
from langgraph_memgpt.server.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    Model,
    ModelList,
    Usage,
)
from langgraph_sdk.errors import ConflictError
from langgraph_sdk.schema import StreamPart
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

MODEL_OWNER = "langgraph-memgpt"
SERVER_STARTED = int(time.time())
REPLY_SEPARATOR = "\n\n"


def message_text(content: str | list[dict[str, Any]] | None) -> str:
    """The text of a message's content (text parts joined; images and the like are skipped)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(
        part["text"]
        for part in content
        if part.get("type") == "text" and isinstance(part.get("text"), str)
    )


def newest_user_text(messages: Sequence[ChatMessage]) -> str:
    """The text of the last user message: the only part of the request the agent needs."""
    for message in reversed(messages):
        if message.role == "user":
            text = message_text(message.content)
            if not text.strip():
                raise ApiError(400, "the newest user message has no text", param="messages")
            return text
    raise ApiError(400, "messages contains no user message", param="messages")


@dataclass
class Turn:
    """What one run of the agent produced, gathered from its stream of node updates."""

    run_id: str = ""
    fallback_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    replies: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None

    def absorb(self, part: StreamPart) -> list[str]:
        """Record one stream part; returns the replies it carried."""
        if part.event == "metadata":
            self.run_id = str((part.data or {}).get("run_id", ""))
            return []
        if part.event == "error":
            data = part.data if isinstance(part.data, dict) else {"message": str(part.data)}
            self.error = f"{data.get('error', 'Error')}: {data.get('message', '')}".strip(": ")
            return []
        if part.event != "updates" or not isinstance(part.data, dict):
            return []
        found = []
        for update in part.data.values():
            messages = update.get("messages") if isinstance(update, dict) else None
            for raw in messages or []:
                if not isinstance(raw, dict) or raw.get("type") != "ai":
                    continue
                message = AIMessage.model_validate(raw)
                usage = message.usage_metadata or {}
                self.prompt_tokens += usage.get("input_tokens", 0)
                self.completion_tokens += usage.get("output_tokens", 0)
                if text := reply_text(message):
                    found.append(text)
        self.replies.extend(found)
        return found

    @property
    def completion_id(self) -> str:
        return f"chatcmpl-{self.run_id or self.fallback_id}"

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.prompt_tokens + self.completion_tokens,
        )


async def start_run(user_id: str, text: str) -> tuple[StreamPart, AsyncGenerator[StreamPart, None]]:
    """Start the agent's turn on the user's thread; returns the first event and the rest.

    The first event is awaited here, before any response is sent, so that a refused run
    (the user's previous turn still running) becomes a 409 instead of a broken stream.
    """
    client = graph_client()
    thread_id = await ensure_user_thread(client, user_id)
    events = client.runs.stream(
        thread_id,
        GRAPH_ID,
        input={"messages": [{"role": "user", "content": text}]},
        context={"user_id": user_id},
        stream_mode="updates",
        # One turn at a time per user: a second message while the agent answers is refused,
        # not interleaved into the same queue.
        multitask_strategy="reject",
        # A client that hangs up must not cut a turn in half (a memory edit made, its reply
        # lost): the run finishes and the reply stays in the thread.
        on_disconnect="continue",
    )
    try:
        first = await anext(events)
    except ConflictError:
        raise ApiError(
            409,
            "the agent is still answering this user's previous message; send this one when "
            "it has finished",
            type="conflict",
        ) from None
    return first, events


def chunk(turn: Turn, model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {
        "id": turn.completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def stream_turn(
    turn: Turn,
    first: StreamPart,
    events: AsyncGenerator[StreamPart, None],
    model: str,
    include_usage: bool,
) -> AsyncIterator[str]:
    """The run as OpenAI chat-completion chunks (server-sent events), ending with [DONE]."""
    turn.absorb(first)
    yield chunk(turn, model, {"role": "assistant", "content": ""})
    sent = 0
    # aclosing: a client that hangs up closes the server stream at once (the run goes on).
    async with aclosing(events):
        async for part in events:
            for text in turn.absorb(part):
                yield chunk(turn, model, {"content": (REPLY_SEPARATOR if sent else "") + text})
                sent += 1
            if turn.error:
                error = {"message": f"the agent failed: {turn.error}", "type": "agent_error"}
                yield f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n"
                yield "data: [DONE]\n\n"
                return
    yield chunk(turn, model, {}, finish="stop")
    if include_usage:
        usage = {
            "id": turn.completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": turn.usage().model_dump(),
        }
        yield f"data: {json.dumps(usage)}\n\n"
    yield "data: [DONE]\n\n"


@documented(
    "Chat with the memory agent (OpenAI-compatible)",
    request=ChatCompletionRequest,
    response=ChatCompletion,
    streams=True,
    errors={
        400: "Invalid request (no user message, bad user id, ...)",
        404: "Unknown model",
        409: "The user's previous message is still being answered",
        502: "The agent's run failed (e.g. the model server is unreachable)",
    },
)
async def chat_completions(request: Request) -> Response:
    """One turn of the user's conversation: the newest user message in, the agent's reply out.

    With "stream": true the reply comes as chat.completion.chunk server-sent events.
    """
    payload = await parse_json_body(request, ChatCompletionRequest)
    if payload.model != GRAPH_ID:
        raise ApiError(
            404,
            f"the model '{payload.model}' does not exist; this server offers '{GRAPH_ID}'",
            type="invalid_request_error",
            param="model",
            code="model_not_found",
        )
    user_id = resolve_user(request, payload.user)
    text = newest_user_text(payload.messages)
    first, events = await start_run(user_id, text)
    turn = Turn()
    if payload.stream:
        include_usage = bool(payload.stream_options and payload.stream_options.include_usage)
        return StreamingResponse(
            stream_turn(turn, first, events, payload.model, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    turn.absorb(first)
    async for part in events:
        turn.absorb(part)
    if turn.error:
        raise ApiError(502, f"the agent failed: {turn.error}", type="agent_error")
    completion = ChatCompletion(
        id=turn.completion_id,
        created=int(time.time()),
        model=payload.model,
        choices=[Choice(message=AssistantMessage(content=REPLY_SEPARATOR.join(turn.replies)))],
        usage=turn.usage(),
    )
    return JSONResponse(completion.model_dump())


@documented("List the models (the memory agent)", response=ModelList, parameters=())
async def list_models(request: Request) -> JSONResponse:
    """The memgpt agent as the one model of this server (what Open WebUI offers to pick)."""
    resolve_user(request)  # with API keys: only for a caller with a valid key
    models = ModelList(data=[Model(id=GRAPH_ID, created=SERVER_STARTED, owned_by=MODEL_OWNER)])
    return JSONResponse(models.model_dump())
