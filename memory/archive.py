"""Archival memory operations: store text as passages, search them, name a user's archive.

These run on any LangGraph ``BaseStore`` (ours locally, LangGraph Platform's PostgreSQL store
when deployed, ``InMemoryStore`` in tests). Passages live under ``("archival", user_id)``: one
archive per user, shared by that user's threads (or one per thread with
``archival_scope="thread"``), so a search can only ever see its own user's passages.

The agent's tools (``tools/archival.py``), the HTTP API (``/memory/search``, ``/memory/add``),
the CLI and document ingestion all call these functions, so a passage is split, stamped and
ranked the same way wherever it comes from.

Under a LangGraph server with API keys (``server/auth.py``) the user is the authenticated one:
the server writes the caller's identity into every run's config, and that wins over the
``user_id`` a run's context names, so a caller cannot open another user's archive by asking.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.store.base import BaseStore, PutOp, SearchItem
from langgraph_memgpt.archival.capabilities import Countable, KeywordSearchable
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import utc_now
from langgraph_memgpt.search.fusion import display_relevance, fuse
from langgraph_memgpt.search.text import content_terms
from langgraph_memgpt.steps import Call, NodeSteps, blocking

CHUNK_CHARS = 2_000
"""Longer content is split into passages of about this size (one id each, a shared source)."""
MAX_INSERT_CHARS = 200_000
"""Larger documents go through ``langgraph-memgpt ingest`` (or the ingest API)."""
CANDIDATES = 100
SNIPPET_CHARS = 600
"""Characters of a passage shown in search results (the model can page or ask for more)."""
COUNT_PAGE = 1_000
"""Items read per page when a store has no count of its own."""
PAYLOAD_FIELDS = frozenset(
    {"content", "tags", "created_at", "source_id", "source", "chunk", "chunks"}
)
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


def bound_context(context: Context, config: Mapping[str, Any] | None) -> Context:
    """``context`` with ``user_id`` bound to the run's authenticated user, when there is one."""
    user = authenticated_user(config)
    if user is None or user == context.user_id:
        return context
    return dataclasses.replace(context, user_id=user)


def split_passages(content: str, chunk_chars: int = CHUNK_CHARS) -> list[str]:
    if len(content) <= chunk_chars:
        return [content]
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_chars, chunk_overlap=chunk_chars // 10
    )
    return [chunk for chunk in splitter.split_text(content) if chunk.strip()]


def normalize_tags(tags: Iterable[str] | None) -> list[str]:
    return sorted({t.strip().lower() for t in tags or [] if t and t.strip()})


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def passage_writes(
    namespace: tuple[str, ...],
    passages: Sequence[str],
    tags: Iterable[str] | None,
    *,
    keys: Sequence[str],
    source_id: str,
    source: str | None,
    first_chunk: int = 0,
    chunks: int | None = None,
    created_at: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[PutOp]:
    """The store writes of a document's passages: the one payload every insert path stores.

    ``first_chunk``/``chunks`` place a batch within a longer document (ingestion writes a
    document's passages in several batches, all with the document's ``created_at``).
    ``extra`` adds fields of the writer's own (a consolidated fact's sources, ``memory/
    knowledge.py``); it cannot replace the payload's fields.
    """
    now = created_at or utc_now()
    labels = normalize_tags(tags)
    return [
        PutOp(
            namespace,
            key,
            {
                "content": text,
                "tags": labels,
                "created_at": now,
                "source_id": source_id,
                "source": source,
                "chunk": first_chunk + offset,
                "chunks": chunks if chunks is not None else len(passages),
                **{k: v for k, v in (extra or {}).items() if k not in PAYLOAD_FIELDS},
            },
        )
        for offset, (key, text) in enumerate(zip(keys, passages, strict=True))
    ]


def new_source_id() -> str:
    return f"src-{uuid.uuid4().hex[:12]}"


def new_passage_key() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


def insert_passages(
    store: BaseStore,
    namespace: tuple[str, ...],
    content: str,
    tags: Sequence[str] | None = None,
    *,
    source: str | None = None,
    idempotency_key: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[str]:
    """Store ``content`` as one or more passages in one batch; returns their ids.

    With ``idempotency_key`` the ids derive from it, so storing again under the same key
    overwrites the same passages instead of adding copies (a tool step re-run after a crash).
    """
    if not content.strip():
        raise ValueError("content is empty; nothing to store")
    passages = split_passages(content)
    seed = idempotency_key or uuid.uuid4().hex
    ids = [f"p-{_digest(f'{seed}:{number}')}" for number in range(len(passages))]
    store.batch(
        passage_writes(
            namespace,
            passages,
            tags,
            keys=ids,
            source_id=f"src-{_digest(seed)}",
            source=source,
            extra=extra,
        )
    )
    return ids


def hybrid_search(
    store: BaseStore,
    namespace: tuple[str, ...],
    query: str,
    *,
    min_similarity: float = 0.0,
) -> list[tuple[SearchItem, float]]:
    """Passages ranked by keyword and semantic rank fusion (best first), with relevance.

    A passage another has superseded (a consolidated fact that is no longer true, ``memory/
    knowledge.py``) is kept in the store but left out here, so no search shows it.
    """
    semantic = store.search(namespace, query=query, limit=CANDIDATES)
    if min_similarity > 0:
        semantic = [i for i in semantic if i.score is None or i.score >= min_similarity]
    by_key = {item.key: item for item in semantic}
    if isinstance(store, KeywordSearchable):
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
    ranked = fuse([i.key for i in semantic], keyword_keys)
    return [
        (by_key[key], score)
        for key, score in ranked
        if key in by_key and not by_key[key].value.get("superseded_by")
    ]


def search_archive(
    store: BaseStore,
    namespace: tuple[str, ...],
    query: str,
    *,
    tags: Iterable[str] | None = None,
    tag_match: Literal["any", "all"] = "any",
    start: datetime | None = None,
    end: datetime | None = None,
    min_similarity: float = 0.0,
) -> list[tuple[SearchItem, float]]:
    """:func:`hybrid_search` with the filters both the tool and the API offer: tags (any or
    all of them) and a creation-time range ``[start, end)``. Raises ValueError on an empty
    query."""
    if not query.strip():
        raise ValueError("query is empty; say what to look for")
    wanted = set(normalize_tags(tags))
    results = []
    for item, score in hybrid_search(store, namespace, query, min_similarity=min_similarity):
        item_tags = set(item.value.get("tags") or [])
        if wanted and not (wanted <= item_tags if tag_match == "all" else wanted & item_tags):
            continue
        created = item.created_at.astimezone(UTC)
        if (start and created < start) or (end and created >= end):
            continue
        results.append((item, score))
    return results


def count_passages(store: BaseStore, namespace: tuple[str, ...]) -> NodeSteps[int]:
    """Passages stored directly in ``namespace`` (our store counts in SQL; others are paged)."""
    if isinstance(store, Countable):
        return (yield blocking(store.count, namespace))
    total, offset = 0, 0
    while True:
        page = yield Call(
            run=lambda o=offset: store.search(namespace, limit=COUNT_PAGE, offset=o),
            arun=lambda o=offset: store.asearch(namespace, limit=COUNT_PAGE, offset=o),
        )
        # search() takes a namespace *prefix*: thread-scoped archives below it are not ours.
        total += sum(1 for item in page if tuple(item.namespace) == tuple(namespace))
        if len(page) < COUNT_PAGE:
            return total
        offset += COUNT_PAGE


def format_passages(
    results: Sequence[tuple[SearchItem, float]], query: str, page: int, page_size: int
) -> str:
    """One page of :func:`search_archive`'s results as the model (and the CLI) reads them."""
    if not results:
        return f'No archival passages match "{query}".'
    pages = max(1, -(-len(results) // page_size))
    shown = results[page * page_size : (page + 1) * page_size]
    lines = [f"Showing {len(shown)} of {len(results)} results (page {page + 1}/{pages}):"]
    for number, (item, score) in enumerate(shown, start=page * page_size + 1):
        text = str(item.value.get("content", ""))
        if len(text) > SNIPPET_CHARS:
            text = text[:SNIPPET_CHARS] + f"... [cut: {len(text) - SNIPPET_CHARS:,} more chars]"
        tags = ", ".join(item.value.get("tags") or []) or "none"
        when = item.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        similarity = f", similarity {item.score:.2f}" if item.score is not None else ""
        lines.append(
            f"{number}. [id={item.key}, {when}, tags: {tags}, relevance "
            f"{display_relevance(score):.2f}{similarity}] {text}"
        )
    if page + 1 < pages:
        lines.append(f"(more: call again with page={page + 1})")
    return "\n".join(lines)
