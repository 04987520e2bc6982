"""Consolidated knowledge: lasting facts, a knowledge graph of entities and relations, the cursor.

What the ``consolidate`` graph (``graph/consolidate.py``) writes, and what the agent's
``knowledge_graph_search`` tool reads. Every rule about this data lives here:

- **Facts** are archival passages (so archival search and automatic retrieval find them) tagged
  ``consolidated``, each with the ids and time range of the messages it came from. A fact is
  stored once: :func:`store_fact` finds a passage that says the same thing (same meaning by
  embedding similarity, and the same specifics: names, numbers, dates, which embeddings blur)
  and adds the new sources to it instead. A fact that replaces an older one supersedes it:
  the new passage names the old (``supersedes``), the old one is kept with ``superseded_by``
  and leaves search results (``memory/archive.py``). Nothing is deleted.
- **Entities** (people, places, organisations, projects, pets, events) live under
  ``("knowledge", user, "entities")``, keyed by their normalised name; **relations** under
  ``("knowledge", user, "relations")``, keyed by (subject, relation, object). Both carry the
  messages they came from and a ``content`` text, the field the store embeds, so they are found
  by meaning. They sit outside ``("archival", user)``: an archival search (a namespace prefix)
  never returns them.
- **The cursor** of each thread's consolidation, under ``("consolidation", user)``: how far the
  thread's recall history has been read, and the answer of a chunk that was being applied, so a
  run that stopped half-way resumes without asking the model again or writing anything twice.

All namespaces begin with the user, so one user's knowledge never reaches another's search.
Every write is keyed by what it is (the chunk and the fact's text, the entity's name), so
applying the same chunk twice writes the same items.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.store.base import BaseStore, SearchItem
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import defuse
from langgraph_memgpt.graph.state import utc_now
from langgraph_memgpt.memory.archive import insert_passages

KNOWLEDGE_ROOT = "knowledge"
CURSOR_ROOT = "consolidation"
FACT_TAG = "consolidated"
ENTITY_TYPES = ("person", "place", "organisation", "project", "pet", "event", "other")
DUPLICATE_SIMILARITY = 0.90
"""Cosine (MiniLM) at or above which two facts may say the same thing. Measured pairs: a
paraphrase 0.91-0.97; "lives in Boston" / "lives in Denver" 0.82; but "on 7 May" / "on 20 June"
0.97, hence the specifics check."""
MAX_SOURCES = 50
"""Message references kept per item (the most recent); older ones are in the history anyway."""
MAX_NOTES = 12
"""Notes kept per entity (the most recent)."""
MAX_ITEM_CHARS = 500
MIN_ENTITY_SIMILARITY = 0.3
"""Entities found by meaning below this cosine are not shown (MiniLM: unrelated text 0-0.2)."""
_MONTHS = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
}  # fmt: skip
_NOT_SPECIFIC = {"the", "a", "an", "i", "he", "she", "they", "it", "his", "her", "their", "user"}
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+")


@dataclass(frozen=True)
class SourceRef:
    """A message a fact, entity or relation came from."""

    id: str
    at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at}


@dataclass
class FactResult:
    outcome: Literal["added", "duplicate", "superseded"]
    key: str


@dataclass
class KnowledgeHits:
    """What ``knowledge_graph_search`` found: entities, with the relations touching them."""

    entities: list[dict[str, Any]] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)


def knowledge_namespace(ctx: Context, kind: Literal["entities", "relations"]) -> tuple[str, ...]:
    return (KNOWLEDGE_ROOT, ctx.user_id, kind)


def cursor_namespace(ctx: Context) -> tuple[str, ...]:
    return (CURSOR_ROOT, ctx.user_id)


def clean(text: Any, limit: int = MAX_ITEM_CHARS) -> str:
    """A model-proposed string as stored: data, defused, on one line, bounded."""
    return defuse(" ".join(str(text or "").split()))[:limit]


def entity_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().removeprefix("the ")).strip("-")


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def specifics(text: str) -> frozenset[str]:
    """Names, numbers and months in ``text``: what two near-identical embeddings may still
    disagree on ("on 7 May" / "on 20 June")."""
    found = set()
    for word in _WORD.findall(text):
        lowered = word.lower().removesuffix("'s")
        if (
            word.isdigit()
            or lowered in _MONTHS
            or (word[0].isupper() and lowered not in _NOT_SPECIFIC)
        ):
            found.add(lowered)
    return frozenset(found)


def _merge_sources(existing: Iterable[Mapping[str, Any]], new: Iterable[SourceRef]) -> list[dict]:
    by_id = {str(ref["id"]): dict(ref) for ref in existing}
    for ref in new:
        by_id.setdefault(ref.id, ref.as_dict())
    return sorted(by_id.values(), key=lambda ref: (ref.get("at") or "", ref["id"]))[-MAX_SOURCES:]


def _time_range(sources: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    times = sorted(str(ref["at"]) for ref in sources if ref.get("at"))
    return (times[0], times[-1]) if times else (None, None)


# -- facts ---------------------------------------------------------------------------------


def live_facts(
    store: BaseStore, archive: tuple[str, ...], query: str, limit: int
) -> list[SearchItem]:
    """Passages of the archive closest in meaning to ``query`` that nothing has superseded."""
    found = store.search(archive, query=query, limit=limit * 2)
    live = [
        item
        for item in found
        if tuple(item.namespace) == tuple(archive) and not item.value.get("superseded_by")
    ]
    return live[:limit]


def same_fact(item: SearchItem, text: str) -> bool:
    stored = str(item.value.get("content", ""))
    if " ".join(stored.lower().split()) == " ".join(text.lower().split()):
        return True
    return (
        item.score is not None
        and item.score >= DUPLICATE_SIMILARITY
        and specifics(stored) == specifics(text)
    )


def store_fact(
    store: BaseStore,
    archive: tuple[str, ...],
    text: str,
    sources: Sequence[SourceRef],
    *,
    thread_id: str,
    replaces: str | None = None,
) -> FactResult:
    """Store one fact in the archive, unless it is there already; supersede ``replaces``.

    Idempotent: the passage's key derives from the thread and the fact's text, so storing the
    same fact again (a chunk applied twice after a crash) finds it and changes nothing.
    """
    text = clean(text)
    if not text:
        raise ValueError("the fact is empty")
    for item in live_facts(store, archive, text, limit=3):
        if same_fact(item, text):
            if item.value.get("kind") == "fact":  # a consolidated fact: add where it came from
                merged = _merge_sources(item.value.get("sources") or [], sources)
                if merged != item.value.get("sources"):
                    first, last = _time_range(merged)
                    value = {**item.value, "sources": merged, "first_at": first, "last_at": last}
                    store.put(archive, item.key, value)
            return FactResult("duplicate", item.key)
    merged = _merge_sources([], sources)
    first, last = _time_range(merged)
    old = store.get(archive, replaces) if replaces else None
    extra = {
        "kind": "fact",
        "thread_id": thread_id,
        "sources": merged,
        "first_at": first,
        "last_at": last,
        "supersedes": old.key if old is not None else None,
        "superseded_by": None,
    }
    (key,) = insert_passages(
        store,
        archive,
        text,
        [FACT_TAG],
        source=f"consolidation of thread {thread_id}",
        idempotency_key=f"fact:{thread_id}:{text}",
        extra=extra,
    )
    if old is not None and old.key != key:
        store.put(archive, old.key, {**old.value, "superseded_by": key, "superseded_at": utc_now()})
        return FactResult("superseded", key)
    return FactResult("added", key)


# -- entities and relations ----------------------------------------------------------------


def _entity_content(value: Mapping[str, Any]) -> str:
    notes = "; ".join(value.get("notes") or [])
    return f"{value['name']} ({value['type']}){': ' + notes if notes else ''}"


def merge_entity(
    store: BaseStore,
    ctx: Context,
    name: str,
    kind: str,
    note: str,
    sources: Sequence[SourceRef],
) -> str | None:
    """Create or extend the entity ``name``; returns its key (None for an unusable name)."""
    name = clean(name, 120)
    key = entity_key(name)
    if not key:
        return None
    namespace = knowledge_namespace(ctx, "entities")
    existing = store.get(namespace, key)
    value = dict(existing.value) if existing is not None else {"name": name, "notes": []}
    kind = kind.lower().strip() if isinstance(kind, str) else ""
    if kind in ENTITY_TYPES and (kind != "other" or "type" not in value):
        value["type"] = kind
    value.setdefault("type", "other")
    note = clean(note)
    if note and note not in value["notes"]:
        value["notes"] = [*value["notes"], note][-MAX_NOTES:]
    value["sources"] = _merge_sources(value.get("sources") or [], sources)
    value["content"] = _entity_content(value)
    value["updated_at"] = utc_now()
    if existing is None or value != existing.value:
        store.put(namespace, key, value)
    return key


def add_relation(
    store: BaseStore,
    ctx: Context,
    subject: str,
    relation: str,
    obj: str,
    sources: Sequence[SourceRef],
) -> str | None:
    """Record ``subject -[relation]-> obj`` (both made entities if new); returns its key."""
    relation = clean(relation, 80).lower()
    subject_key = merge_entity(store, ctx, subject, "other", "", sources)
    object_key = merge_entity(store, ctx, obj, "other", "", sources)
    if not (subject_key and object_key and relation):
        return None
    namespace = knowledge_namespace(ctx, "relations")
    key = digest(subject_key, relation, object_key)
    existing = store.get(namespace, key)
    value = {
        "subject": clean(subject, 120),
        "subject_key": subject_key,
        "relation": relation,
        "object": clean(obj, 120),
        "object_key": object_key,
        "sources": _merge_sources(
            (existing.value.get("sources") if existing else None) or [], sources
        ),
    }
    value["content"] = f"{value['subject']} {relation} {value['object']}"
    if existing is None or any(existing.value.get(k) != v for k, v in value.items()):
        store.put(namespace, key, {**value, "updated_at": utc_now()})
    return key


def has_knowledge(store: BaseStore, ctx: Context) -> bool:
    """Whether the user's knowledge graph has any entity (the tool is offered only then)."""
    return bool(store.search(knowledge_namespace(ctx, "entities"), limit=1))


def search_knowledge(store: BaseStore, ctx: Context, query: str, limit: int = 5) -> KnowledgeHits:
    """The entity named ``query``, or else the entities closest to it in meaning, with the
    relations touching them."""
    if not query.strip():
        raise ValueError("query is empty; name an entity or say what to look for")
    entities_ns = knowledge_namespace(ctx, "entities")
    relations_ns = knowledge_namespace(ctx, "relations")
    exact = store.get(entities_ns, entity_key(query))
    if exact is not None:  # the entity asked for by name: it alone, with all its relations
        found = [exact]
    else:
        found = [
            item
            for item in store.search(entities_ns, query=query, limit=limit)
            if item.score is None or item.score >= MIN_ENTITY_SIMILARITY
        ]
    hits = KnowledgeHits(entities=[{"key": f.key, **f.value} for f in found])
    keys = {f.key for f in found}
    seen: set[str] = set()
    for entity in keys:
        for field_name in ("subject_key", "object_key"):
            for item in store.search(relations_ns, filter={field_name: entity}, limit=50):
                if item.key not in seen:
                    seen.add(item.key)
                    hits.relations.append({"key": item.key, **item.value})
    return hits


def format_knowledge(hits: KnowledgeHits, query: str) -> str:
    """What the model reads: each entity, its notes, its relations, and their sources."""
    if not hits.entities:
        return f'Nothing in the knowledge graph matches "{query}".'

    def where(sources: Sequence[Mapping[str, Any]]) -> str:
        refs = [
            f"{ref['id']}" + (f" at {str(ref['at'])[:16]}" if ref.get("at") else "")
            for ref in sources[-3:]
        ]
        more = f" and {len(sources) - 3} more" if len(sources) > 3 else ""
        return f"(from messages {', '.join(refs)}{more})" if refs else "(source unknown)"

    lines = []
    for entity in hits.entities:
        lines.append(f"{entity['name']} [{entity['type']}] {where(entity.get('sources') or [])}")
        lines += [f"  - {note}" for note in entity.get("notes") or []]
        for relation in hits.relations:
            if entity["key"] in (relation["subject_key"], relation["object_key"]):
                lines.append(
                    f"  * {relation['subject']} -[{relation['relation']}]-> "
                    f"{relation['object']} {where(relation.get('sources') or [])}"
                )
    return "\n".join(lines)


# -- the cursor ----------------------------------------------------------------------------


def read_cursor(store: BaseStore, ctx: Context, thread_id: str) -> dict[str, Any]:
    item = store.get(cursor_namespace(ctx), thread_id)
    return dict(item.value) if item is not None else {}


def write_cursor(store: BaseStore, ctx: Context, thread_id: str, cursor: Mapping[str, Any]) -> None:
    # No index: the cursor is looked up by key, never searched by meaning.
    store.put(cursor_namespace(ctx), thread_id, {**cursor, "updated_at": utc_now()}, index=False)
