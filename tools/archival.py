"""archival_memory_insert / archival_memory_search: the agent's unbounded long-term store.

The tools talk only to the ``BaseStore`` the runtime provides (ours locally, LangGraph
Platform's PostgreSQL store when deployed, ``InMemoryStore`` in tests). Passages live under
``("archival", user_id)``: one archive per user, shared by that user's threads (or one per
thread with ``archival_scope="thread"``), so a search can only ever see its own user's passages.

Under a LangGraph server with API keys (``server/auth.py``) the user is the authenticated one:
the server writes the caller's identity into every run's config, and that wins over the
``user_id`` a run's context names, so a caller cannot open another user's archive by asking.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, Literal

from langgraph.store.base import BaseStore, SearchItem
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import utc_now
from langgraph_memgpt.search.recall_index import RRF_K, content_terms, date_range
from langgraph_memgpt.tools.base import AgentTool, ToolContext, ToolFailure, ToolOutcome
from pydantic import BaseModel, Field

CHUNK_CHARS = 2_000
"""Longer content is split into passages of about this size (one id each, a shared source)."""
MAX_INSERT_CHARS = 200_000
"""Larger documents go through ``langgraph-memgpt ingest`` (or the ingest API)."""
CANDIDATES = 100
SNIPPET_CHARS = 600
AUTH_USER_PERMISSION = "memgpt:user"
"""The permission ``server/auth.py`` gives a key-authenticated user; a run started by such a
user uses that user's archive (the server copies identity and permissions into the config)."""


def archive_namespace(ctx: Context, thread_id: str | None = None) -> tuple[str, ...]:
    if ctx.archival_scope == "thread" and thread_id:
        return ("archival", ctx.user_id, thread_id)
    return ("archival", ctx.user_id)


def authenticated_user(config: Mapping[str, Any] | None) -> str | None:
    """The key-authenticated user who started this run on a LangGraph server, if any.

    langgraph-api overwrites ``langgraph_auth_user_id`` / ``langgraph_auth_permissions`` in the
    run's configurable from the request's credentials, so a client cannot forge them.
    """
    configurable = (config or {}).get("configurable") or {}
    permissions = configurable.get("langgraph_auth_permissions") or ()
    user = configurable.get("langgraph_auth_user_id")
    if AUTH_USER_PERMISSION in permissions and isinstance(user, str) and user:
        return user
    return None


def run_context(ctx: ToolContext) -> Context:
    """The run's context, with ``user_id`` bound to the authenticated user when there is one."""
    user = authenticated_user(ctx.config)
    if user is None or user == ctx.context.user_id:
        return ctx.context
    return dataclasses.replace(ctx.context, user_id=user)


def split_passages(content: str, chunk_chars: int = CHUNK_CHARS) -> list[str]:
    if len(content) <= chunk_chars:
        return [content]
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_chars, chunk_overlap=chunk_chars // 10
    )
    return [chunk for chunk in splitter.split_text(content) if chunk.strip()]


def normalize_tags(tags: Sequence[str] | None) -> list[str]:
    return sorted({t.strip().lower() for t in tags or [] if t and t.strip()})


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def insert_passages(
    store: BaseStore,
    namespace: tuple[str, ...],
    content: str,
    tags: Sequence[str] | None = None,
    *,
    source: str | None = None,
    idempotency_key: str | None = None,
) -> list[str]:
    """Store ``content`` as one or more passages in one batch; returns their ids.

    With ``idempotency_key`` the ids derive from it, so storing again under the same key
    overwrites the same passages instead of adding copies (a tool step re-run after a crash).
    """
    if not content.strip():
        raise ValueError("content is empty; nothing to store")
    passages = split_passages(content)
    seed = idempotency_key or uuid.uuid4().hex
    source_id = f"src-{_digest(seed)}"
    now = utc_now()
    ids = [f"p-{_digest(f'{seed}:{number}')}" for number in range(len(passages))]
    from langgraph.store.base import PutOp

    store.batch(
        [
            PutOp(
                namespace,
                key,
                {
                    "content": text,
                    "tags": normalize_tags(tags),
                    "created_at": now,
                    "source_id": source_id,
                    "source": source,
                    "chunk": number,
                    "chunks": len(passages),
                },
            )
            for number, (key, text) in enumerate(zip(ids, passages, strict=True))
        ]
    )
    return ids


def hybrid_search(
    store: BaseStore,
    namespace: tuple[str, ...],
    query: str,
    *,
    min_similarity: float = 0.0,
) -> list[tuple[SearchItem, float]]:
    """Passages ranked by keyword and semantic rank fusion (best first), with relevance."""
    semantic = store.search(namespace, query=query, limit=CANDIDATES)
    if min_similarity > 0:
        semantic = [i for i in semantic if i.score is None or i.score >= min_similarity]
    by_key = {item.key: item for item in semantic}
    if hasattr(store, "keyword_search"):
        keyword_keys = [key for key, _ in store.keyword_search(namespace, query, CANDIDATES)]
        for key in keyword_keys:
            if key not in by_key and (item := store.get(namespace, key)) is not None:
                by_key[key] = SearchItem(
                    item.namespace,
                    item.key,
                    item.value,
                    item.created_at,
                    item.updated_at,
                    score=None,
                )
    else:  # another store: rank the semantic candidates by the query's words they contain
        terms = content_terms(query)
        overlap = {
            i.key: sum(t in str(i.value.get("content", "")).lower() for t in terms)
            for i in semantic
        }
        keyword_keys = [k for k, n in sorted(overlap.items(), key=lambda kv: -kv[1]) if n]
    scores: dict[str, float] = {}
    for ranking in ([i.key for i in semantic], keyword_keys):
        for rank, key in enumerate(ranking):
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [(by_key[key], score) for key, score in ranked if key in by_key]


class InsertArgs(BaseModel):
    content: str = Field(description="What to remember, written to be understood later.")
    tags: list[str] | None = Field(default=None, description="Optional labels, e.g. ['work'].")


class SearchArgs(BaseModel):
    query: str = Field(description="What to look for (words or a question).")
    tags: list[str] | None = Field(default=None, description="Only passages with these tags.")
    tag_match: Literal["any", "all"] = Field(
        default="any", description="'any': at least one of the tags; 'all': every tag."
    )
    start_datetime: str | None = Field(default=None, description="ISO date/time lower bound.")
    end_datetime: str | None = Field(
        default=None, description="ISO date/time upper bound; a bare date includes that day."
    )
    page: int = Field(default=0, ge=0, description="Page number, from 0.")


def _store(ctx: ToolContext) -> BaseStore:
    if ctx.store is None:
        raise ToolFailure("archival memory is not configured: this run has no store")
    return ctx.store


def _thread_id(ctx: ToolContext) -> str | None:
    thread = ((ctx.config or {}).get("configurable") or {}).get("thread_id")
    return str(thread) if thread is not None else None


def insert_key(ctx: ToolContext, content: str) -> str | None:
    """The idempotency key of an insert: the thread, the turn and the passage's text.

    A turn can run twice: a step re-run after a crash (same tool call ids), or the whole turn
    sent again after its checkpoints were lost in a crash (``durability="exit"``, a kill
    before the model's answer was saved), with new tool call ids and, without the client's
    own message id, a new id for the user message. What stays the same is the turn: where its
    user message sits in the thread (the messages before it, evicted or queued) and what it
    says. So the key is built from those and the passage's text, and the repeat overwrites
    what it stored the first time. The same words said again later are a new turn, and may
    store the same text again. (A message the thread already answered, sent again with its
    id, does not run at all: see ``nodes/routing.py``.)
    """
    queue = list(ctx.state.get("messages") or [])
    position = next(
        (i for i in range(len(queue) - 1, -1, -1) if getattr(queue[i], "type", "") == "human"),
        None,
    )
    if position is None:
        return f"{_thread_id(ctx)}:{ctx.tool_call_id}" if ctx.tool_call_id else None
    turn = ((ctx.state.get("summary") or {}).get("message_count") or 0) + position
    said = str(queue[position].content)
    digest = hashlib.sha256(f"{turn}\x00{said}\x00{content}".encode()).hexdigest()
    return f"{_thread_id(ctx)}:{digest}"


def archival_memory_insert(args: InsertArgs, ctx: ToolContext) -> ToolOutcome:
    store = _store(ctx)
    if len(args.content) > MAX_INSERT_CHARS:
        raise ToolFailure(
            f"content has {len(args.content):,} characters, more than {MAX_INSERT_CHARS:,}; "
            "store a summary, or ingest the document with `langgraph-memgpt ingest`"
        )
    try:
        thread = _thread_id(ctx)
        ids = insert_passages(
            store,
            archive_namespace(run_context(ctx), thread),
            args.content,
            args.tags,
            idempotency_key=insert_key(ctx, args.content),
        )
    except ValueError as error:
        raise ToolFailure(str(error)) from None
    if len(ids) == 1:
        return ToolOutcome(text=f"Stored in archival memory as {ids[0]}.")
    return ToolOutcome(
        text=f"Stored in archival memory as {len(ids)} passages ({ids[0]} ... {ids[-1]})."
    )


def archival_memory_search(args: SearchArgs, ctx: ToolContext) -> ToolOutcome:
    store = _store(ctx)
    if not args.query.strip():
        raise ToolFailure("query is empty; say what to look for")
    try:
        start, end = date_range(
            args.start_datetime, args.end_datetime, ("start_datetime", "end_datetime")
        )
    except ValueError as error:
        raise ToolFailure(str(error)) from None
    wanted = set(normalize_tags(args.tags))
    namespace = archive_namespace(run_context(ctx), _thread_id(ctx))
    results = []
    for item, score in hybrid_search(
        store, namespace, args.query, min_similarity=ctx.context.archival_min_similarity
    ):
        tags = set(item.value.get("tags") or [])
        if wanted and not (wanted <= tags if args.tag_match == "all" else wanted & tags):
            continue
        created = item.created_at.astimezone(UTC)
        if (start and created < start) or (end and created >= end):
            continue
        results.append((item, score))
    size = ctx.context.archival_page_size
    pages = max(1, -(-len(results) // size))
    shown = results[args.page * size : (args.page + 1) * size]
    if not results:
        return ToolOutcome(text=f'No archival passages match "{args.query}".')
    lines = [f"Showing {len(shown)} of {len(results)} results (page {args.page + 1}/{pages}):"]
    for number, (item, score) in enumerate(shown, start=args.page * size + 1):
        text = str(item.value.get("content", ""))
        if len(text) > SNIPPET_CHARS:
            text = text[:SNIPPET_CHARS] + f"... [cut: {len(text) - SNIPPET_CHARS:,} more chars]"
        tags = ", ".join(item.value.get("tags") or []) or "none"
        when = item.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        similarity = f", similarity {item.score:.2f}" if item.score is not None else ""
        lines.append(
            f"{number}. [id={item.key}, {when}, tags: {tags}, relevance "
            f"{score * (RRF_K + 1) / 2:.2f}{similarity}] {text}"
        )
    if args.page + 1 < pages:
        lines.append(f"(more: call again with page={args.page + 1})")
    return ToolOutcome(text="\n".join(lines))


ARCHIVAL_TOOLS: tuple[AgentTool, ...] = (
    AgentTool(
        name="archival_memory_insert",
        description="Save a fact or document to archival memory (unbounded, searchable "
        "later). Use it for things worth keeping that do not belong in core memory.",
        args_model=InsertArgs,
        run=archival_memory_insert,
        requires_store=True,
    ),
    AgentTool(
        name="archival_memory_search",
        description="Search archival memory by meaning and keywords; filter by tags and "
        "dates; page through results.",
        args_model=SearchArgs,
        run=archival_memory_search,
        requires_store=True,
    ),
)
