"""``POST /v1/chat/completions`` and ``GET /v1/models``: the agent as an OpenAI-compatible model.

Beside them, ``POST /chat`` (Seed 001's plain chat): ``{"message", "user_id"}`` in, the reply,
the user and their thread out; the same turn as a (not streamed) chat completion, under the
same authentication, with none of the front-end handling below.

Open WebUI and any OpenAI client can chat with the memory agent. The agent keeps its own
history, so a request's newest user message is the turn (front ends resend the whole
conversation; their system prompt and earlier turns are not sent to the agent). The user is
the API key's when the server has keys (``server/auth.py``), else the ``user`` field or the
``X-User-Id`` header picks them; each user has one thread, created on first contact.

A request becomes one run of the ``memgpt`` graph on that thread, streamed as ``updates``: the
reply is what the agent sends with ``send_message`` (or a plain answer), so a streamed answer
arrives one agent message at a time, each as soon as the model produced it. Several messages
in one turn are joined with a blank line. Besides plain turns:

- a front end's background task (a chat title, tags, ...) is answered by the model without
  touching memory, and never delays a turn (``tasks.py``);
- a second message for a user whose turn is running waits in LangGraph's run queue
  (``multitask_strategy="enqueue"``) for at most ``MEMGPT_QUEUE_WAIT_SECONDS``;
- a regenerated or edited message continues the thread from where the client's history
  parts from it (``branches.py``);
- a client that disconnects from a streamed reply cancels its run. A plain (not streamed)
  request's run goes on to the end: under the LangGraph server this app does not see that
  hang-up (``Request.is_disconnected()`` stayed false in a test under ``langgraph dev``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.models import env_seconds
from langgraph_memgpt.server.auth import multi_user
from langgraph_memgpt.server.backend import (
    GRAPH_ID,
    ensure_user_thread,
    graph_client,
    resolve_user,
    user_thread_id,
)
from langgraph_memgpt.server.branches import TURN_KEY, ForkPoint, find_fork, text_hash
from langgraph_memgpt.server.errors import ApiError, parse_json_body
from langgraph_memgpt.server.openapi import documented
from langgraph_memgpt.server.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    ChatReply,
    ChatRequest,
    Choice,
    Model,
    ModelList,
    Usage,
)
from langgraph_memgpt.server.tasks import GATE, answer_task, background_task
from langgraph_sdk.schema import StreamPart
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

MODEL_OWNER = "langgraph-memgpt"
SERVER_STARTED = int(time.time())
REPLY_SEPARATOR = "\n\n"
CHAT_ID_HEADER = "x-openwebui-chat-id"
"""Open WebUI sends its chat id when ENABLE_FORWARD_USER_INFO_HEADERS is on."""
QUEUE_WAIT_ENV = "MEMGPT_QUEUE_WAIT_SECONDS"
DEFAULT_QUEUE_WAIT_SECONDS = 300.0


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


def conversation(messages: Sequence[ChatMessage]) -> list[tuple[str, str]]:
    """The request's messages as (role, text) pairs."""
    return [(message.role, message_text(message.content)) for message in messages]


def user_texts(messages: Sequence[tuple[str, str]]) -> list[str]:
    """The texts of the user messages, oldest first; the last one is the turn."""
    texts = [text for role, text in messages if role == "user"]
    if not texts:
        raise ApiError(400, "messages contains no user message", param="messages")
    if not texts[-1].strip():
        raise ApiError(400, "the newest user message has no text", param="messages")
    return texts


def queue_wait_seconds() -> float:
    return env_seconds(QUEUE_WAIT_ENV, DEFAULT_QUEUE_WAIT_SECONDS)


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


async def start_run(
    user_id: str, texts: Sequence[str], chat_id: str | None
) -> tuple[StreamPart, AsyncGenerator[StreamPart, None]]:
    """Start the agent's turn on the user's thread; returns the first event and the rest.

    The first event (the run's metadata) comes when the run starts, behind any turn of the
    user's that is still running; it is awaited here, before any response is sent, so that a
    wait past the limit becomes a clear 503 instead of a broken stream.
    """
    client = graph_client()
    thread_id = await ensure_user_thread(client, user_id)
    earlier = [text_hash(text) for text in texts[:-1]]
    fork: ForkPoint | None = None
    # No history and no chat id (a plain client) can only append: no state to read.
    if earlier or chat_id is not None:
        thread = await client.threads.get(thread_id)
        if thread.get("status") != "busy":  # a busy thread's end is still moving: append
            fork = await find_fork(client, thread_id, earlier, chat_id)
    turn_id = str(uuid.uuid4())
    run_input: dict[str, Any] = {
        "messages": [{"role": "user", "content": texts[-1], "id": turn_id}],
        "chat_turns": [{"id": turn_id, "text_hash": text_hash(texts[-1]), "chat_id": chat_id}],
    }
    if fork is not None:
        run_input["forgotten_ids"] = fork.forgotten_ids
    events = client.runs.stream(
        thread_id,
        GRAPH_ID,
        input=run_input,
        context={"user_id": user_id},
        config={"metadata": {TURN_KEY: turn_id}},
        checkpoint_id=fork.checkpoint_id if fork else None,
        stream_mode="updates",
        # One turn at a time per user: a message sent while the agent answers the previous
        # one waits in the server's run queue, and runs when that turn is done.
        multitask_strategy="enqueue",
        # A client that hangs up (Open WebUI's stop button) cancels its turn, queued or
        # running; what the turn saved before is kept, as after any cancelled run.
        on_disconnect="cancel",
    )
    wait = queue_wait_seconds()
    try:
        first = await asyncio.wait_for(anext(events), wait)
    except TimeoutError:
        await events.aclose()  # the server sees the disconnect and cancels the queued run
        raise ApiError(
            503,
            f"the agent was still answering this user's earlier messages after {wait:.0f} s; "
            f"this message was not sent, send it again ({QUEUE_WAIT_ENV} sets the wait)",
            type="server_busy",
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
    release: Callable[[], None],
) -> AsyncIterator[str]:
    """The run as OpenAI chat-completion chunks (server-sent events), ending with [DONE].

    ``release`` ends the turn's count in the task gate, however the stream ends.
    """
    try:
        turn.absorb(first)
        yield chunk(turn, model, {"role": "assistant", "content": ""})
        sent = 0
        # aclosing: a client that hangs up closes the server stream at once (which cancels the run).
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
    finally:
        release()


@documented(
    "Chat with the memory agent (OpenAI-compatible)",
    request=ChatCompletionRequest,
    response=ChatCompletion,
    streams=True,
    errors={
        400: "Invalid request (no user message, ...)",
        404: "Unknown model",
        503: "The user's earlier messages were still being answered after the queue wait",
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
    messages = conversation(payload.messages)
    if background_task(messages, (payload.model_extra or {}).get("metadata")) is not None:
        reply = await answer_task(user_id, messages)
        return reply_response(Turn(replies=[reply]), payload)
    texts = user_texts(messages)
    release = GATE.enter()
    try:
        first, events = await start_run(user_id, texts, request.headers.get(CHAT_ID_HEADER))
    except BaseException:
        release()
        raise
    turn = Turn()
    if payload.stream:
        include_usage = bool(payload.stream_options and payload.stream_options.include_usage)
        body = stream_turn(turn, first, events, payload.model, include_usage, release)
        # A response dropped before its stream began never runs the stream's own release.
        weakref.finalize(body, release)
        return StreamingResponse(
            body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    return reply_response(await whole_turn(turn, first, events, release), payload)


@documented(
    "Send the memory agent one message and get its reply",
    request=ChatRequest,
    response=ChatReply,
    errors={
        400: "Invalid request (empty message, ...)",
        503: "The user's earlier messages were still being answered after the queue wait",
        502: "The agent's run failed (e.g. the model server is unreachable)",
    },
)
async def chat_message(request: Request) -> JSONResponse:
    """One turn of the user's conversation, the simplest way: a message in, the reply out.

    The same turn as a chat completion's (the user's one thread, one turn at a time, the
    queue wait), for clients that are not chat front ends.
    """
    payload = await parse_json_body(request, ChatRequest)
    user_id = resolve_user(request, payload.user_id)
    if not payload.message.strip():
        raise ApiError(400, "message is empty; say something", param="message")
    release = GATE.enter()  # a turn: background tasks give way to it, as for completions
    try:
        first, events = await start_run(user_id, [payload.message], None)
    except BaseException:
        release()
        raise
    turn = await whole_turn(Turn(), first, events, release)
    body = ChatReply(
        message=REPLY_SEPARATOR.join(turn.replies),
        replies=turn.replies,
        user_id=user_id,
        thread_id=user_thread_id(user_id),
        run_id=turn.run_id,
        usage=turn.usage(),
    )
    return JSONResponse(body.model_dump())


async def whole_turn(
    turn: Turn, first: Any, events: AsyncIterator[Any], release: Callable[[], None]
) -> Turn:
    """A run's events gathered into ``turn`` (a reply not streamed), then ``release``; a run
    that failed is a 502."""
    try:
        turn.absorb(first)
        async for part in events:
            turn.absorb(part)
    finally:
        release()
    if turn.error:
        raise ApiError(502, f"the agent failed: {turn.error}", type="agent_error")
    return turn


def reply_response(turn: Turn, payload: ChatCompletionRequest) -> Response:
    """A finished reply as a chat completion, streamed (in one chunk) if the client asked."""
    content = REPLY_SEPARATOR.join(turn.replies)
    if payload.stream:

        async def one_chunk() -> AsyncIterator[str]:
            yield chunk(turn, payload.model, {"role": "assistant", "content": content})
            yield chunk(turn, payload.model, {}, finish="stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(one_chunk(), media_type="text/event-stream")
    completion = ChatCompletion(
        id=turn.completion_id,
        created=int(time.time()),
        model=payload.model,
        choices=[Choice(message=AssistantMessage(content=content))],
        usage=turn.usage(),
    )
    return JSONResponse(completion.model_dump())


@documented("List the models (the memory agent)", response=ModelList, parameters=())
async def list_models(request: Request) -> JSONResponse:
    """The memgpt agent as the one model of this server (what Open WebUI offers to pick)."""
    if multi_user():
        resolve_user(request)  # with API keys: only for a caller with a valid key
    # Without keys the list is the same for everyone: a user header is not even read.
    models = ModelList(data=[Model(id=GRAPH_ID, created=SERVER_STARTED, owned_by=MODEL_OWNER)])
    return JSONResponse(models.model_dump())
