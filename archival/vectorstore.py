"""VectorStoreArchive: any LangChain ``VectorStore`` (Chroma, ...) as the archival ``BaseStore``.

The archival tools talk only to a LangGraph ``BaseStore``; this adapter lets a vector store a user
already runs play that part. One item is one document: its id is a stable UUID of (namespace,
key), its text is the item's indexed field (embedded by the vector store's own embedding
function), and its metadata carry everything else as scalars (Chroma accepts nothing else):

- ``namespace`` (the labels as a JSON list) and ``ns_1``, ``ns_2``, ... (the namespace's
  prefixes, labels joined by ``.``: ``"archival"``, ``"archival.ada"``), so a namespace prefix
  is one equality the backend evaluates itself (LangGraph forbids ``.`` in labels; one
  condition, as Chroma's filtered queries get slower with every condition);
- ``key``, ``value`` (the value as JSON, without the text the document already holds),
  ``text_field``, ``indexed``, ``created_at`` / ``updated_at`` (ISO) and ``seq`` (insertion
  order, for listings).

Namespaces are filtered in the backend query (Chroma ``where``), never only afterwards, so one
user's search cannot even fetch another user's passages; results are checked again in Python.
``filter`` operators (``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, nested dicts) are
evaluated in Python over the value with LangGraph's own rules, since the value is one JSON string
to the backend; a filtered semantic search reads deeper until it has enough hits.

Not supported (documented differences from ``InMemoryStore``):

- TTL (``supports_ttl = False``: a ``ttl`` is refused, ``refresh_ttl`` is ignored);
- several indexed fields are joined into one text with one vector (``InMemoryStore`` embeds each
  and keeps the best score); items stored with ``index=False`` are found by ``get`` and listings,
  never by a query search;
- search without a query and ``list_namespaces`` need a backend that lists documents with
  ``get(where=...)`` (Chroma does; ``InMemoryVectorStore``, FAISS and most others raise
  ``NotImplementedError``). A listing reads the metadata of every matching document, as the
  backend cannot order them; query searches are done by the backend;
- a batch is two backend writes (upserts, then deletes), each atomic only as far as the backend
  makes it; everything is validated before the first write.

Scores are the vector store's relevance scores: cosine similarity for a Chroma collection with
``{"hnsw": {"space": "cosine"}}`` (what ``open_chroma_archive`` creates) or for
``InMemoryVectorStore``, matching the other stores' scores and ``archival_min_similarity``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    get_text_at_path,
    tokenize_path,
)

# The same filter and namespace-matching rules as LangGraph's InMemoryStore (private helpers,
# imported rather than copied so the stores cannot drift apart; SqliteVecStore does the same).
from langgraph_memgpt._compat import filter_matches, namespace_matches
from langgraph_memgpt.archival.capabilities import KeywordSearchable
from langgraph_memgpt.search.text import content_terms
from langgraph_memgpt.steps import Call, adrive, blocking, drive

Scalar = str | int | float | bool
MetadataFilter = Callable[[dict[str, Scalar]], Any]
"""Turns equality conditions on metadata into what the vector store's ``filter=`` accepts."""

NAMESPACE, KEY, VALUE, TEXT_FIELD = "namespace", "key", "value", "text_field"
INDEXED, CREATED, UPDATED, SEQUENCE = "indexed", "created_at", "updated_at", "seq"
PREFIX = "ns_{}"
"""Metadata key of the namespace's prefix of a length (``ns_2``: ``"archival.ada"``)."""
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "langgraph-memgpt/archival-item")
LISTING_PAGE = 1_000
"""Documents read per backend call when listing."""
KEYWORD_DEPTH = 200
"""Most documents read per query word by ``keyword_search``."""
BM25_K1, BM25_B = 1.2, 0.75


def document_id(namespace: Sequence[str], key: str) -> str:
    """The stable document id of an item: a UUID (accepted by every backend) of namespace+key.

    Example:
        ```python
        document_id(("archival", "ada"), "p-1") == document_id(("archival", "ada"), "p-1")
        ```
    """
    return str(uuid.uuid5(ID_NAMESPACE, json.dumps([list(namespace), key])))


def where_filter(conditions: dict[str, Scalar]) -> dict[str, Any] | None:
    """Equalities as a Mongo-style filter: Chroma, PGVector, FAISS and others read it.

    Example:
        ```python
        where_filter({"ns_2": "archival.ada", "indexed": True})
        # {"$and": [{"ns_2": {"$eq": "archival.ada"}}, {"indexed": {"$eq": True}}]}
        ```
    """
    clauses = [{name: {"$eq": wanted}} for name, wanted in conditions.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def predicate_filter(conditions: dict[str, Scalar]) -> Callable[[Document], bool] | None:
    """Equalities as a predicate over documents: what ``InMemoryVectorStore`` takes.

    Example:
        ```python
        keep = predicate_filter({"ns_1": "ada"})
        keep(Document("x", metadata={"ns_1": "ada"}))  # True
        ```
    """
    if not conditions:
        return None
    expected = dict(conditions)
    return lambda doc: all(doc.metadata.get(k) == v for k, v in expected.items())


@dataclass(frozen=True)
class _Write:
    """A put, validated and encoded before anything is written."""

    op: PutOp
    text: str
    value_json: str
    text_field: str
    indexed: bool


@dataclass(frozen=True)
class _Entry:
    """One document as a listing reads it: metadata only, the text field left None."""

    doc_id: str
    item: Item
    seq: int
    text_field: str


class VectorStoreArchive(BaseStore):
    """A LangGraph ``BaseStore`` on any LangChain ``VectorStore`` (sync and async).

    Args:
        vectorstore: The vector store; it embeds with its own embedding function. For Chroma,
            create the collection with ``collection_configuration={"hnsw": {"space":
            "cosine"}}`` so scores are cosine similarities (``open_chroma_archive`` does).
        fields: Value fields whose text is embedded (``InMemoryStore``'s ``index["fields"]``).
        metadata_filter: Builds the backend filter from metadata equalities. Default: a
            predicate for ``InMemoryVectorStore``, a Mongo-style ``$and``/``$eq`` dict
            otherwise (Chroma, PGVector, FAISS). Pass your own for other filter languages.
        relevance_score_fn: Maps the store's raw score to a similarity; default: the vector
            store's own relevance function, or the raw score where it has none.

    With Chroma the archive also has ``keyword_search`` (passages containing the query's words,
    found by Chroma's document filter), which the archival tools fuse with semantic search.

    Example:
        ```python
        from langchain_chroma import Chroma
        from langgraph_memgpt.archival.vectorstore import VectorStoreArchive
        from langgraph_memgpt.embeddings import load_embedding_model

        embeddings = load_embedding_model().embeddings
        archive = VectorStoreArchive(
            Chroma(
                collection_name="archival",
                persist_directory="./chroma",
                embedding_function=embeddings,
                collection_configuration={"hnsw": {"space": "cosine"}},
            )
        )
        archive.put(("archival", "ada"), "p1", {"content": "Ada's cat is called Miso."})
        archive.search(("archival", "ada"), query="pet name", limit=3)
        ```
    """

    supports_ttl = False

    keyword_search: Callable[[Sequence[str], str, int], list[tuple[str, float]]]
    """(key, score) of passages with the query's words; set only when the backend filters
    documents by text (Chroma), which makes the archive ``KeywordSearchable``."""
    count: Callable[[Sequence[str]], int]
    """Items in exactly one namespace; set only when the backend lists documents (Chroma): the
    graph shows it in the memory metadata when a store has it."""

    def __init__(
        self,
        vectorstore: VectorStore,
        *,
        fields: Sequence[str] = ("content",),
        metadata_filter: MetadataFilter | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
    ) -> None:
        self.vectorstore = vectorstore
        self.fields: list[tuple[str, Any]] = [
            (path, tokenize_path(path) if path != "$" else path) for path in fields
        ]
        if metadata_filter is None:
            in_memory = isinstance(vectorstore, InMemoryVectorStore)
            metadata_filter = predicate_filter if in_memory else where_filter
        self.metadata_filter = metadata_filter
        self._relevance = relevance_score_fn
        self._sequence_lock = threading.Lock()
        self._last_sequence = 0
        lister = getattr(vectorstore, "get", None)
        parameters = inspect.signature(lister).parameters if callable(lister) else {}
        self.lists_documents = "where" in parameters
        if self.lists_documents:
            self.count = self._count
        if "where_document" in parameters:
            self.keyword_search = self._keyword_search

    # -- BaseStore -------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return drive(self._batch_steps(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await adrive(self._batch_steps(list(ops)))

    def _batch_steps(self, ops: list[Op]) -> Generator[Call, Any, list[Result]]:
        """Reads first (they see the store as it was before the batch, like InMemoryStore),
        then the writes: the last put per key wins."""
        writes = self._plan(ops)
        wanted = [document_id(op.namespace, op.key) for op in ops if isinstance(op, GetOp)]
        wanted += [document_id(*where) for where in writes]
        stored: dict[str, Document] = {}
        if wanted:
            found = yield self._call("get_by_ids", list(dict.fromkeys(wanted)))
            stored = {doc.id: doc for doc in found if doc.id is not None}
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                doc = stored.get(document_id(op.namespace, op.key))
                item = self._decode(doc.metadata, doc.page_content) if doc else None
                ours = item is not None and (item.namespace, item.key) == (op.namespace, op.key)
                results.append(item if ours else None)
            elif isinstance(op, SearchOp):
                results.append((yield from self._search_steps(op)))
            elif isinstance(op, ListNamespacesOp):
                results.append((yield from self._list_namespaces_steps(op)))
            else:
                results.append(None)
        yield from self._write_steps(writes, stored)
        return results

    def _plan(self, ops: list[Op]) -> dict[tuple[tuple[str, ...], str], _Write | None]:
        """Every put encoded (None: a delete); raises before any I/O on a bad operation."""
        writes: dict[tuple[tuple[str, ...], str], _Write | None] = {}
        for op in ops:
            if not isinstance(op, GetOp | SearchOp | ListNamespacesOp | PutOp):
                raise ValueError(f"Unknown operation type: {type(op)}")
            if not isinstance(op, PutOp):
                continue
            if op.ttl is not None:
                raise NotImplementedError(
                    f"TTL is not supported by {type(self).__name__}; put without ttl "
                    "(or use SqliteVecStore, which supports it)"
                )
            where = (tuple(op.namespace), op.key)
            writes[where] = None if op.value is None else self._encode(op)
        return writes

    # -- encoding --------------------------------------------------------------------------

    def _encode(self, op: PutOp) -> _Write:
        assert op.value is not None
        value = dict(op.value)
        if op.index is False:
            paths: list[tuple[str, Any]] = []
        elif op.index is None:
            paths = self.fields
        else:
            paths = [(p, tokenize_path(p) if p != "$" else p) for p in op.index]
        texts = [text for _, tokens in paths for text in get_text_at_path(value, tokens)]
        text = "\n".join(texts)
        text_field = ""
        if len(paths) == 1 and paths[0][1] == [paths[0][0]] and value.get(paths[0][0]) == text:
            # The document already holds the field's text: keep it once (passages are most
            # of an archive's bytes); the null keeps the field's place in the value.
            text_field = paths[0][0]
            value[text_field] = None
        try:
            value_json = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"value of {op.namespace}/{op.key} is not JSON-serializable: {error}"
            ) from None
        # A document needs some text even when nothing is indexed; such items are marked so
        # no query search ever scores them on it.
        return _Write(op, text or op.key, value_json, text_field, indexed=bool(text))

    def _next_sequence(self) -> int:
        with self._sequence_lock:
            self._last_sequence = max(time.time_ns(), self._last_sequence + 1)
            return self._last_sequence

    def _metadata(self, write: _Write, previous: Item | None, seq: int, now: str) -> dict:
        namespace = tuple(write.op.namespace)
        metadata: dict[str, Scalar] = {
            NAMESPACE: _namespace_json(namespace),
            KEY: write.op.key,
            VALUE: write.value_json,
            TEXT_FIELD: write.text_field,
            INDEXED: write.indexed,
            CREATED: previous.created_at.isoformat() if previous else now,
            UPDATED: now,
            SEQUENCE: seq,
        }
        metadata.update(
            {PREFIX.format(n): ".".join(namespace[:n]) for n in range(1, len(namespace) + 1)}
        )
        return metadata

    @staticmethod
    def _decode(metadata: Mapping[str, Any] | None, text: str | None) -> Item | None:
        """The item a document holds, or None for a document that is not one of ours (a
        collection may be shared with other applications)."""
        if not metadata:
            return None
        try:
            namespace = tuple(json.loads(metadata[NAMESPACE]))
            value = json.loads(metadata[VALUE])
            key = str(metadata[KEY])
            created = datetime.fromisoformat(metadata[CREATED])
            updated = datetime.fromisoformat(metadata[UPDATED])
        except (KeyError, TypeError, ValueError):
            return None
        if field := metadata.get(TEXT_FIELD):
            value[field] = text
        return Item(
            value=value, key=key, namespace=namespace, created_at=created, updated_at=updated
        )

    # -- writes ----------------------------------------------------------------------------

    def _write_steps(
        self,
        writes: dict[tuple[tuple[str, ...], str], _Write | None],
        stored: dict[str, Document],
    ) -> Generator[Call, Any, None]:
        now = datetime.now(UTC).isoformat()
        documents: list[Document] = []
        deleted: list[str] = []
        for where, write in writes.items():
            doc_id = document_id(*where)
            before = stored.get(doc_id)
            if write is None:
                if before is not None:
                    deleted.append(doc_id)
                continue
            previous = self._decode(before.metadata, None) if before else None
            # An update keeps the item's creation time and its place in listings.
            kept = int(before.metadata.get(SEQUENCE) or 0) if previous and before else 0
            seq = kept or self._next_sequence()
            metadata = self._metadata(write, previous, seq, now)
            documents.append(Document(page_content=write.text, metadata=metadata, id=doc_id))
        if documents:
            # add_documents with ids is an upsert in LangChain's VectorStore contract.
            yield self._call("add_documents", documents, ids=[d.id for d in documents])
        if deleted:
            yield self._call("delete", deleted)

    # -- search ----------------------------------------------------------------------------

    @staticmethod
    def _prefix_conditions(prefix: Sequence[str], *, wildcards: bool = False) -> dict[str, Scalar]:
        """The one equality selecting a namespace prefix (none for the empty prefix). With
        ``wildcards`` (``list_namespaces`` conditions) a ``*`` ends what the backend can
        select, the rest is checked in Python; in a search prefix ``*`` is a plain label."""
        labels = list(prefix)
        if wildcards and "*" in labels:
            labels = labels[: labels.index("*")]
        return {PREFIX.format(len(labels)): ".".join(labels)} if labels else {}

    def _search_steps(self, op: SearchOp) -> Generator[Call, Any, list[SearchItem]]:
        if op.query:
            return (yield from self._semantic_steps(op))
        wanted = op.offset + op.limit
        entries = yield from self._listing_steps(self._prefix_conditions(op.namespace_prefix))
        prefix = tuple(op.namespace_prefix)
        entries = [e for e in entries if e.item.namespace[: len(prefix)] == prefix]
        # InMemoryStore's order: namespaces in the order they were created, then items in the
        # order they were first put (the backend has no ORDER BY, so sort here).
        first_seen: dict[tuple[str, ...], int] = {}
        for entry in entries:
            namespace = entry.item.namespace
            first_seen[namespace] = min(entry.seq, first_seen.get(namespace, entry.seq))
        entries.sort(key=lambda e: (first_seen[e.item.namespace], e.seq))
        if op.filter:
            yield from self._text_steps([e for e in entries if e.text_field in op.filter])
            entries = [e for e in entries if filter_matches(e.item.value, op.filter)]
        chosen = entries[op.offset : wanted]
        yield from self._text_steps(chosen)
        return [_scored(e.item, None) for e in chosen]

    def _text_steps(self, entries: list[_Entry]) -> Generator[Call, Any, None]:
        """Put the document texts a metadata-only listing left out back into the values."""
        missing = [e for e in entries if e.text_field and e.item.value[e.text_field] is None]
        if not missing:
            return
        found = yield self._call("get_by_ids", [e.doc_id for e in missing])
        texts = {doc.id: doc.page_content for doc in found}
        for entry in missing:
            entry.item.value[entry.text_field] = texts.get(entry.doc_id)

    def _semantic_steps(self, op: SearchOp) -> Generator[Call, Any, list[SearchItem]]:
        assert op.query is not None
        wanted = op.offset + op.limit
        if wanted <= 0:
            return []
        prefix = tuple(op.namespace_prefix)
        conditions = self._prefix_conditions(prefix)
        depth = wanted
        while True:
            hits = yield self._scored_search(op.query, depth, conditions)
            found: list[SearchItem] = []
            for doc, score in hits:
                if doc.metadata.get(INDEXED) is False:  # rare (index=False): skipped here
                    continue
                item = self._decode(doc.metadata, doc.page_content)
                # The backend filter already confined the search to the prefix; checked again
                # so no backend quirk can ever hand one user another user's passage.
                if item is None or item.namespace[: len(prefix)] != prefix:
                    continue
                if op.filter and not filter_matches(item.value, op.filter):
                    continue
                found.append(_scored(item, score))
            if len(found) >= wanted or len(hits) < depth:
                return found[op.offset : wanted]
            depth *= 4  # the value filter removed too many hits: read deeper

    def _scored_search(self, query: str, k: int, conditions: dict[str, Scalar]) -> Call:
        backend_filter = self.metadata_filter(conditions)
        store = self.vectorstore

        def scored(hits: list[tuple[Document, float]]) -> list[tuple[Document, float]]:
            relevance = self._relevance_fn()
            return [(doc, float(relevance(score))) for doc, score in hits]

        # similarity_search_with_score + the store's relevance function, rather than
        # similarity_search_with_relevance_scores: that one warns (printing every hit) whenever
        # a cosine is negative, which is ordinary for unrelated text.
        def run() -> list[tuple[Document, float]]:
            return scored(store.similarity_search_with_score(query, k=k, filter=backend_filter))

        async def arun() -> list[tuple[Document, float]]:
            hits = await store.asimilarity_search_with_score(query, k=k, filter=backend_filter)
            return scored(hits)

        return Call(run=run, arun=arun)

    def _relevance_fn(self) -> Callable[[float], float]:
        if self._relevance is None:
            try:
                self._relevance = self.vectorstore._select_relevance_score_fn()
            except NotImplementedError:  # e.g. InMemoryVectorStore: its score is the cosine
                self._relevance = float
        return self._relevance

    # -- listings --------------------------------------------------------------------------

    def _require_listing(self) -> None:
        if not self.lists_documents:
            raise NotImplementedError(
                f"{type(self.vectorstore).__name__} cannot list documents (it has no "
                "get(where=...)): search with a query, or get items by key; Chroma can list"
            )

    def _listing_steps(self, conditions: dict[str, Scalar]) -> Generator[Call, Any, list[_Entry]]:
        """Every document matching ``conditions``, page by page, metadata only (passage texts
        are most of the bytes: they are read for the items returned)."""
        self._require_listing()
        where = self.metadata_filter(conditions)
        entries: list[_Entry] = []
        offset = 0
        while True:
            page = yield blocking(
                lambda offset=offset: self.vectorstore.get(  # type: ignore[attr-defined]
                    where=where, include=["metadatas"], limit=LISTING_PAGE, offset=offset
                )
            )
            ids, metadatas = page["ids"], page["metadatas"]
            for doc_id, metadata in zip(ids, metadatas, strict=True):
                item = self._decode(metadata, None)
                if item is not None:
                    seq, field = int(metadata.get(SEQUENCE, 0)), str(metadata.get(TEXT_FIELD) or "")
                    entries.append(_Entry(doc_id, item, seq, field))
            if len(ids) < LISTING_PAGE:
                return entries
            offset += LISTING_PAGE

    def _count(self, namespace: Sequence[str]) -> int:
        """How many items ``namespace`` holds (ids only are read)."""
        where = self.metadata_filter({NAMESPACE: _namespace_json(namespace)})
        return len(self.vectorstore.get(where=where, include=[])["ids"])  # type: ignore[attr-defined]

    def _list_namespaces_steps(
        self, op: ListNamespacesOp
    ) -> Generator[Call, Any, list[tuple[str, ...]]]:
        prefixes = [c.path for c in op.match_conditions or () if c.match_type == "prefix"]
        pushed = self._prefix_conditions(prefixes[0], wildcards=True) if prefixes else {}
        entries = yield from self._listing_steps(pushed)
        namespaces = {entry.item.namespace for entry in entries}
        if op.match_conditions:
            namespaces = {
                ns
                for ns in namespaces
                if all(namespace_matches(c, ns) for c in op.match_conditions)
            }
        if op.max_depth is not None:
            namespaces = {ns[: op.max_depth] for ns in namespaces}
        return sorted(namespaces)[op.offset : op.offset + op.limit]

    # -- keyword search (backends that filter documents by text: Chroma) -------------------

    def _keyword_search(
        self, namespace: Sequence[str], query: str, limit: int = 50
    ) -> list[tuple[str, float]]:
        """(key, score) of the items in exactly ``namespace`` containing the query's words,
        best first: BM25 over the matching passages (Chroma finds them with a
        case-insensitive whole-word ``$regex`` document filter, inside the namespace)."""
        terms = content_terms(query)
        if not terms:
            return []
        exact = _namespace_json(namespace)
        where = self.metadata_filter({NAMESPACE: exact})
        texts: dict[str, tuple[str, str]] = {}
        passages_with: dict[str, int] = {}
        for term in terms:  # \w+ words: nothing to escape in a regex
            page = self.vectorstore.get(  # type: ignore[attr-defined]
                where=where,
                where_document={"$regex": rf"(?i)\b{term}\b"},
                include=["metadatas", "documents"],
                limit=KEYWORD_DEPTH,
            )
            passages_with[term] = len(page["ids"])
            for doc_id, metadata, text in zip(
                page["ids"], page["metadatas"], page["documents"], strict=True
            ):
                if metadata.get(NAMESPACE) == exact and metadata.get(INDEXED) is not False:
                    texts[doc_id] = (str(metadata[KEY]), text or "")
        if not texts:
            return []
        # The matching passages stand in for the corpus: document frequencies over them rank
        # a rare word's passages above a common word's.
        total = len(texts)
        average = sum(len(t) for _, t in texts.values()) / total or 1.0
        scores: list[tuple[str, float]] = []
        for key, text in texts.values():
            score = 0.0
            for term in terms:
                count = len(re.findall(rf"\b{term}\b", text, flags=re.IGNORECASE))
                if not count:
                    continue
                having = passages_with[term]
                rarity = math.log(1 + (total - having + 0.5) / (having + 0.5))
                norm = BM25_K1 * (1 - BM25_B + BM25_B * len(text) / average)
                score += rarity * count * (BM25_K1 + 1) / (count + norm)
            scores.append((key, score))
        scores.sort(key=lambda entry: -entry[1])
        return scores[:limit]

    async def akeyword_search(
        self, namespace: Sequence[str], query: str, limit: int = 50
    ) -> list[tuple[str, float]]:
        """``keyword_search`` off the event loop (Chroma's client is synchronous)."""
        if not isinstance(self, KeywordSearchable):
            raise NotImplementedError(
                f"{type(self.vectorstore).__name__} cannot filter documents by text"
            )
        return await asyncio.to_thread(self.keyword_search, namespace, query, limit)

    # -- plumbing --------------------------------------------------------------------------

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Call:
        """A vector store method as a Call: its async twin when it has one, else a thread."""
        sync = getattr(self.vectorstore, method)
        asynchronous = getattr(self.vectorstore, f"a{method}", None)
        if asynchronous is None:
            return blocking(lambda: sync(*args, **kwargs))
        return Call(run=lambda: sync(*args, **kwargs), arun=lambda: asynchronous(*args, **kwargs))


def _namespace_json(namespace: Sequence[str]) -> str:
    return json.dumps(list(namespace))


def _scored(item: Item, score: float | None) -> SearchItem:
    return SearchItem(
        namespace=item.namespace,
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=score,
    )


def open_chroma_archive(
    path: str | Path,
    embeddings: Embeddings | None = None,
    *,
    collection_name: str = "archival",
) -> VectorStoreArchive:
    """The archive in a persistent local Chroma directory, ready for the archival tools.

    Uses the package's embedding model unless ``embeddings`` is given, creates the collection
    with cosine distance (scores are cosine similarities, as with ``SqliteVecStore``) and turns
    Chroma's telemetry off, so nothing reaches the network. Opening a directory whose vectors
    have another dimension than the model's is a clear error. Needs the ``chroma`` extra.

    Example:
        ```python
        from langgraph_memgpt.archival.vectorstore import open_chroma_archive

        archive = open_chroma_archive("~/.local/share/langgraph-memgpt/chroma")
        graph = build_graph(model, store=archive)
        ```
    """
    try:
        import chromadb
        from chromadb.config import Settings
        from langchain_chroma import Chroma
    except ImportError as error:
        raise ImportError(
            f"Chroma is not installed ({error}): pip install 'langgraph-memgpt[chroma]'"
        ) from error
    if embeddings is None:
        from langgraph_memgpt.embeddings import load_embedding_model

        model = load_embedding_model()
        embeddings, dimensions = model.embeddings, model.dimensions
    else:
        dimensions = len(embeddings.embed_query("dimension probe"))
    location = Path(path).expanduser()
    location.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(
        path=str(location), settings=Settings(anonymized_telemetry=False)
    )
    configuration = {"hnsw": {"space": "cosine"}}
    collection = client.get_or_create_collection(
        collection_name, embedding_function=None, configuration=configuration
    )
    _check_collection(collection, dimensions, location)
    vectorstore = Chroma(
        collection_name=collection_name,
        embedding_function=embeddings,
        client=client,
        collection_configuration=configuration,
    )
    # The collection is known to be cosine: giving the relevance function spares langchain-
    # chroma reading the collection's configuration (a DeprecationWarning on every read).
    return VectorStoreArchive(vectorstore, relevance_score_fn=_cosine_similarity)


def _cosine_similarity(distance: float) -> float:
    return 1.0 - distance


def _check_collection(collection: Any, dimensions: int, location: Path) -> None:
    """Refuse a collection the archive would misread: other vector sizes, non-cosine scores."""
    with warnings.catch_warnings():
        # chromadb flags the configuration of every collection langchain-chroma makes (no
        # Chroma-side embedding function: "legacy"), though nothing is wrong with it.
        warnings.filterwarnings("ignore", "legacy embedding function", DeprecationWarning)
        configuration = collection.configuration or {}
    space = (configuration.get("hnsw") or {}).get("space")
    if space not in (None, "cosine"):
        raise ValueError(
            f"Chroma collection {collection.name!r} in {location} uses {space} distance; the "
            "archive needs cosine (scores are cosine similarities): use another collection_name"
        )
    sample = collection.get(limit=1, include=["embeddings"])["embeddings"]
    if sample is not None and len(sample) and len(sample[0]) != dimensions:
        raise ValueError(
            f"Chroma collection {collection.name!r} in {location} holds {len(sample[0])}-"
            f"dimension vectors but the embedding model makes {dimensions}: open it with the "
            "model it was built with, or use another directory"
        )
