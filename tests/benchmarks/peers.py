"""The peer comparison: LangGraph + langmem's SummarizationNode beside our agent, and our store
against the behaviours LangGraph's own store tests check.

1. Per-turn overhead and checkpoint bytes per turn, measured in the same run on the same
   machine for: a LangGraph graph built as langmem's docs show it (a ``SummarizationNode`` in
   front of the model, its ``RunningSummary`` kept in the state) on LangGraph's ``SqliteSaver``
   on a file; our agent (``turn_overhead.py``'s run, reused, not copied); and LangGraph's floor
   (three empty nodes on our saver). Both agents get the same conversation generator
   (``turn_overhead.py``'s), scripted zero-latency models whose time is subtracted (its
   ``TimedModel``), the same 8K window and the same durability. The overhead is the median
   over the last 100 turns at each length (all but model calls); bytes per turn are the
   checkpoint file's growth over the last 1,000 turns (the WAL folded in first).

2. ``SqliteVecStore`` against the behaviours that LangGraph's ``BaseStore`` tests check
   (langgraph's libs/checkpoint/tests/test_store.py on ``InMemoryStore``,
   libs/checkpoint-sqlite/tests/test_store.py and test_async_store.py on ``SqliteStore``,
   libs/checkpoint-postgres/tests/test_store.py for TTL). The cases below are written here,
   one per behaviour; as a control they run on ``InMemoryStore`` and ``SqliteStore`` too
   (``n/a`` where a store lacks the feature: InMemoryStore has no TTL). Vector cases use a
   deterministic bag-of-words embedding (hashed words), whose cosine tracks shared words.

    python tests/benchmarks/peers.py 10 1000

Ends with
``peers: langmem SummarizationNode A ms/turn at 10 turns, B ms at N turns (ours C / D ms),
E KB/turn (ours F KB)`` and ``store behaviours: N of M hold in SqliteVecStore (InMemoryStore
K of M, ...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import math
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from figures import add_figures_argument, record
from langchain_core.embeddings import Embeddings
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore
from langgraph_memgpt import Context
from langgraph_memgpt.archival import SqliteVecStore
from langmem.short_term import SummarizationNode
from turn_overhead import (
    LOCOMO,
    WINDOW,
    Conversation,
    TimedModel,
    file_bytes,
    langgraph_floor,
    warm_up,
)
from turn_overhead import run as run_ours

# -- 1. the peer agent ------------------------------------------------------------------------

CONTEXT = Context(context_window=WINDOW)
# How the settings mirror ours. Our agent lets the prompt fill ``prompt_window`` (8,192 minus
# the 1,024-token answer reserve = 7,168 tokens), then folds the OLDEST HALF of the queue into
# a summary capped at 12% of the window (983 tokens): one summary call per ~3,600 tokens of
# new conversation, each over ~3,600 tokens. langmem folds everything not yet summarized once
# it reaches ``max_tokens_before_summary``; set to half the prompt window, it summarizes as
# often and as much as ours evicts. ``max_tokens`` is the prompt window itself (what the model
# may be sent) and ``max_summary_tokens`` our summary cap. langmem counts tokens its default
# way (count_tokens_approximately, 4 characters a token), as its docs' graph does.
PEER_MAX_TOKENS = CONTEXT.prompt_window
PEER_TOKENS_BEFORE_SUMMARY = CONTEXT.prompt_window // 2
PEER_SUMMARY_TOKENS = CONTEXT.summary_token_cap


class PeerState(MessagesState):
    context: dict[str, Any]  # langmem keeps its RunningSummary here: {"running_summary": ...}


class ModelInput(TypedDict):
    summarized_messages: list[AnyMessage]
    context: dict[str, Any]


def peer_graph(conversation: Conversation, saver: SqliteSaver) -> tuple[Any, list[TimedModel]]:
    """langmem's documented graph: START -> summarize -> call_model, on ``saver``."""

    def chat(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(content=conversation.reply)  # what our model's send_message says

    def summarize(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage(content=conversation.summary())  # as our summarizer

    model = TimedModel(default=chat, reported_ratio=None)
    summarizer = TimedModel(default=summarize, reported_ratio=None)
    node = SummarizationNode(
        model=summarizer,
        max_tokens=PEER_MAX_TOKENS,
        max_tokens_before_summary=PEER_TOKENS_BEFORE_SUMMARY,
        max_summary_tokens=PEER_SUMMARY_TOKENS,
    )

    def call_model(state: ModelInput) -> dict[str, Any]:
        return {"messages": [model.invoke(state["summarized_messages"])]}

    builder = StateGraph(PeerState)
    builder.add_node("summarize", node)
    builder.add_node("call_model", call_model)
    builder.add_edge(START, "summarize")
    builder.add_edge("summarize", "call_model")
    return builder.compile(checkpointer=saver), [model, summarizer]


def open_saver(path: Path) -> SqliteSaver:
    # langmem's RunningSummary is allowed explicitly, as LangGraph's warning asks a user to.
    serde = JsonPlusSerializer(
        allowed_msgpack_modules=[("langmem.short_term.summarization", "RunningSummary")]
    )
    saver = SqliteSaver(sqlite3.connect(str(path), check_same_thread=False), serde=serde)
    saver.setup()
    return saver


def run_peer(
    turns: int, workdir: Path, durability: str, data: Path | None = None, synthetic: bool = False
) -> dict[str, float]:
    """The peer over ``turns`` turns of the same conversation generator as ours."""
    conversation = Conversation(data, synthetic=synthetic)
    db = workdir / f"peer-{turns}.sqlite"
    saver = open_saver(db)
    graph, models = peer_graph(conversation, saver)
    config = {"configurable": {"thread_id": "bench"}}
    overheads, summaries = [], 0
    size_start, size_mark = max(0, turns - 1000), 0
    try:
        for turn in range(turns):
            text = conversation.user(turn)
            if turn == size_start:
                saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                size_mark = file_bytes(db)
            for model in models:
                model.seconds_inside = 0.0
            calls = len(models[1].prompts)
            started = time.perf_counter()
            graph.invoke({"messages": [("user", text)]}, config, durability=durability)
            elapsed = time.perf_counter() - started
            overheads.append(elapsed - sum(m.seconds_inside for m in models))
            summaries += len(models[1].prompts) > calls
            for model in models:
                model.prompts.clear()  # the scripted model keeps prompts: not the peer's cost
        saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        total = file_bytes(db)  # while open, as at the mark (closing drops the -shm file)
    finally:
        saver.conn.close()
    tail = overheads[max(0, turns - 100) :]
    return {
        "turns": turns,
        "p50_ms": statistics.median(tail) * 1000,
        "p95_ms": sorted(tail)[int(0.95 * (len(tail) - 1))] * 1000,
        "bytes_per_turn_tail": (total - size_mark) / (turns - size_start),
        "bytes_total": total,
        "summaries": summaries,
    }


def warm_up_peer(workdir: Path, durability: str) -> None:
    run_peer(5, workdir / "peer-warm-up", durability, synthetic=True)


# -- 2. store behaviours -----------------------------------------------------------------------

DIMS = 256


class WordEmbeddings(Embeddings):
    """Each word (lowercased, \\w+) hashed to one signed dimension: cosine tracks shared words."""

    def _one(self, text: str) -> list[float]:
        vector = np.zeros(DIMS)
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % DIMS] += 1 if digest[4] & 1 else -1
        norm = np.linalg.norm(vector)
        return (vector / norm if norm else vector).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)


EMBED = WordEmbeddings()


class NotApplicable(Exception):
    """The store lacks the feature the case needs (e.g. InMemoryStore and TTL)."""


Make = Callable[..., BaseStore]
"""make(fields=None | list[str], indexed=False, ttl=None | TTLConfig) -> a fresh store."""


@dataclass
class Case:
    name: str
    source: str  # the langgraph test(s) that check the behaviour
    run: Callable[[Make], Any]


CASES: list[Case] = []


def case(source: str) -> Callable[[Callable[[Make], Any]], Callable[[Make], Any]]:
    def register(fn: Callable[[Make], Any]) -> Callable[[Make], Any]:
        CASES.append(Case(fn.__name__, source, fn))
        return fn

    return register


def keys(items: list[Any]) -> list[str]:
    return [i.key for i in items]


def spaces(items: list[Any]) -> set[tuple[str, ...]]:
    return {tuple(i.namespace) for i in items}


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def cosine(a: list[float], b: list[float]) -> float:
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb) if na and nb else 0.0


# Basic operations (checkpoint-sqlite test_basic_store_ops / test_basic_store_operations).


@case("sqlite test_basic_store_ops")
def put_then_get(make: Make) -> None:
    store = make()
    store.put(("docs", "u1"), "k1", {"title": "Plan", "n": 1, "deep": {"a": [1, 2]}})
    item = store.get(("docs", "u1"), "k1")
    check(item is not None, "get returned None")
    check(item.value == {"title": "Plan", "n": 1, "deep": {"a": [1, 2]}}, f"value {item.value}")
    check(item.key == "k1" and tuple(item.namespace) == ("docs", "u1"), "key or namespace")
    check(isinstance(item.created_at, datetime), f"created_at {item.created_at!r}")
    check(isinstance(item.updated_at, datetime), f"updated_at {item.updated_at!r}")


@case("sqlite test_basic_store_ops")
def get_missing_is_none(make: Make) -> None:
    store = make()
    store.put(("docs", "u1"), "k1", {"n": 1})
    check(store.get(("docs", "u1"), "nope") is None, "missing key found")
    check(store.get(("docs", "u2"), "k1") is None, "key found in another namespace")
    check(store.get(("docs",), "k1") is None, "key found in the parent namespace")


@case("sqlite test_basic_store_operations")
def put_overwrites(make: Make) -> None:
    store = make()
    store.put(("docs",), "k1", {"title": "old"})
    first = store.get(("docs",), "k1")
    time.sleep(0.01)
    store.put(("docs",), "k1", {"title": "new", "extra": True})
    second = store.get(("docs",), "k1")
    check(second.value == {"title": "new", "extra": True}, f"value {second.value}")
    check(second.updated_at >= first.updated_at, "updated_at went back")
    check(keys(store.search(("docs",))) == ["k1"], "an overwrite left two items")


@case("sqlite test_basic_store_ops")
def delete_removes(make: Make) -> None:
    store = make()
    store.put(("docs",), "k1", {"n": 1})
    store.put(("docs",), "k2", {"n": 2})
    store.delete(("docs",), "k1")
    store.delete(("docs",), "never-stored")  # no error
    check(store.get(("docs",), "k1") is None, "deleted item still read")
    check(keys(store.search(("docs",))) == ["k2"], "deleted item still searched")
    store.delete(("docs",), "k2")
    check(store.search(("docs",)) == [], "search after deleting all")


@case("checkpoint test_cannot_put_empty_namespace")
def namespace_rules(make: Make) -> None:
    store = make()
    for bad in [(), ("a.b",), ("x", ""), ("langgraph", "x")]:
        try:
            store.put(bad, "k", {"n": 1})
        except InvalidNamespaceError:
            continue
        raise AssertionError(f"put accepted namespace {bad}")
    store.put(("x", "langgraph", "y"), "k", {"n": 1})
    check(store.get(("x", "langgraph", "y"), "k").value == {"n": 1}, "nested langgraph label")
    store.batch([PutOp(("langgraph", "raw"), "k", {"n": 2})])  # batch skips put's check
    check(store.get(("langgraph", "raw"), "k").value == {"n": 2}, "batch put under langgraph")


# Batches (checkpoint-sqlite test_batch_* and test_async_store test_abatch_order).


def _batch_order_ops() -> list[Any]:
    return [
        GetOp(("test", "foo"), "key1"),
        PutOp(("test", "bar"), "key2", {"data": "value2"}),
        SearchOp(("test",), {"data": "value1"}, 10, 0),
        ListNamespacesOp(None, None, 10, 0),
        GetOp(("test",), "key3"),
    ]


def _check_batch_order(results: list[Any]) -> None:
    check(len(results) == 5, f"{len(results)} results for 5 ops")
    check(isinstance(results[0], Item) and results[0].value == {"data": "value1"}, "get")
    check(results[1] is None, "put result")
    check(keys(results[2]) == ["key1"], f"search {results[2]}")
    check({("test", "foo"), ("test", "bar")} <= set(results[3]), f"listing {results[3]}")
    check(results[4] is None, "get of a missing key")


@case("sqlite test_batch_order")
def batch_results_in_op_order(make: Make) -> None:
    store = make()
    store.put(("test", "foo"), "key1", {"data": "value1"})
    store.put(("test", "bar"), "key2", {"data": "value2"})
    _check_batch_order(store.batch(_batch_order_ops()))
    results = store.batch(
        [
            SearchOp(("test",), None, 5, 0),
            PutOp(("test",), "key3", {"data": "value3"}),
            GetOp(("test", "foo"), "key1"),
        ]
    )
    check(len(results[0]) == 2 and results[1] is None, "reordered batch")
    check(results[2].key == "key1", "reordered get")
    check(store.get(("test",), "key3").value == {"data": "value3"}, "batch put not stored")


@case("sqlite test_async_store test_abatch_order")
async def abatch_results_in_op_order(make: Make) -> None:
    store = make()
    await store.aput(("test", "foo"), "key1", {"data": "value1"})
    await store.aput(("test", "bar"), "key2", {"data": "value2"})
    _check_batch_order(await store.abatch(_batch_order_ops()))


@case("sqlite test_batch_put_ops")
def batch_puts_and_deletes(make: Make) -> None:
    store = make()
    store.put(("test",), "key3", {"data": "old"})
    results = store.batch(
        [
            PutOp(("test",), "key1", {"data": "value1"}),
            PutOp(("test",), "key2", {"data": "value2"}),
            PutOp(("test",), "key3", None),
        ]
    )
    check(results == [None, None, None], f"results {results}")
    check(store.get(("test",), "key1").value == {"data": "value1"}, "key1")
    check(store.get(("test",), "key2").value == {"data": "value2"}, "key2")
    check(store.get(("test",), "key3") is None, "PutOp(value=None) did not delete")


@case("sqlite test_batch_search_ops")
def batch_searches(make: Make) -> None:
    store = make()
    store.put(("test", "foo"), "key1", {"tag": "a"})
    store.put(("test", "bar"), "key2", {"tag": "a"})
    store.put(("test", "baz"), "key3", {"tag": "b"})
    tagged, first_two, foo = store.batch(
        [
            SearchOp(("test",), {"tag": "a"}, 10, 0),
            SearchOp(("test",), None, 2, 0),
            SearchOp(("test", "foo"), None, 10, 0),
        ]
    )
    check(sorted(keys(tagged)) == ["key1", "key2"], f"filtered {keys(tagged)}")
    check(len(first_two) == 2, f"limit 2 gave {len(first_two)}")
    check(keys(foo) == ["key1"] and spaces(foo) == {("test", "foo")}, f"namespace {keys(foo)}")


@case("sqlite test_batch_list_namespaces_ops")
def batch_listings(make: Make) -> None:
    store = make()
    for ns in [("t", "docs", "public"), ("t", "docs", "private"), ("p", "docs", "public")]:
        store.put(ns, "k", {"n": 1})
    everything, shallow, public = store.batch(
        [
            ListNamespacesOp(None, None, 10, 0),
            ListNamespacesOp(None, 2, 10, 0),
            ListNamespacesOp((MatchCondition("suffix", ("public",)),), None, 10, 0),
        ]
    )
    check(len(everything) == 3, f"all {everything}")
    check(sorted(shallow) == [("p", "docs"), ("t", "docs")], f"max_depth 2 {shallow}")
    check(sorted(public) == [("p", "docs", "public"), ("t", "docs", "public")], f"{public}")


# Search without a query (checkpoint-sqlite test_search*, test_search_items).


@case("sqlite test_search, test_search_items")
def search_by_namespace_prefix(make: Make) -> None:
    store = make()
    store.put(("test", "docs"), "d1", {"n": 1})
    store.put(("test", "docs"), "d2", {"n": 2})
    store.put(("test", "images"), "i1", {"n": 3})
    store.put(("other",), "o1", {"n": 4})
    check(sorted(keys(store.search(("test",)))) == ["d1", "d2", "i1"], "prefix ('test',)")
    docs = store.search(("test", "docs"))
    check(sorted(keys(docs)) == ["d1", "d2"] and spaces(docs) == {("test", "docs")}, "exact")
    check(store.search(("nobody",)) == [], "unknown prefix")


@case("sqlite test_search_namespace_segment_boundary")
def search_prefix_stops_at_label_boundary(make: Make) -> None:
    store = make()
    for ns in [("foo",), ("foo", "child"), ("foobar",), ("foobar", "baz"), ("foo2",)]:
        store.put(ns, "k", {"n": 1})
    found = spaces(store.search(("foo",), limit=100))
    check(found == {("foo",), ("foo", "child")}, f"('foo',) found {found}")
    check(spaces(store.search(("foobar",), limit=100)) == {("foobar",), ("foobar", "baz")}, "")
    check(store.search(("fo",), limit=100) == [], "('fo',) matched a longer label")


@case("sqlite test_search_empty_prefix_is_unconstrained")
def search_empty_prefix_finds_all(make: Make) -> None:
    store = make()
    for ns in [("a",), ("b", "c"), ("d", "e", "f")]:
        store.put(ns, "k", {"n": 1})
    check(spaces(store.search((), limit=100)) == {("a",), ("b", "c"), ("d", "e", "f")}, "")


@case("sqlite test_search_namespace_is_case_sensitive")
def search_is_case_sensitive(make: Make) -> None:
    store = make()
    store.put(("Foo",), "k", {"v": "upper"})
    store.put(("foo",), "k", {"v": "lower"})
    check(spaces(store.search(("foo",), limit=100)) == {("foo",)}, "('foo',)")
    check(spaces(store.search(("Foo",), limit=100)) == {("Foo",)}, "('Foo',)")


@case("sqlite test_search_namespace_wildcard_chars_are_literal")
def search_metacharacters_are_literal(make: Make) -> None:
    store = make()
    for ns in [("user_1",), ("user_1", "c"), ("userX1",), ("a%b",), ("axxb",), ("s*",), ("sX",)]:
        store.put(ns, "k", {"n": 1})
    check(spaces(store.search(("user_1",), limit=100)) == {("user_1",), ("user_1", "c")}, "_")
    check(spaces(store.search(("a%b",), limit=100)) == {("a%b",)}, "%")
    check(spaces(store.search(("s*",), limit=100)) == {("s*",)}, "*")


def _people(store: BaseStore) -> None:
    store.put(("p",), "ada", {"author": "Ada", "n": 1, "score": 4.5, "on": True, "tags": ["a"]})
    store.put(("p",), "bob", {"author": "Bob", "n": 2, "score": 3.0, "on": False, "tags": ["b"]})
    store.put(("p",), "cy", {"author": "Ada", "n": 3, "score": 3.5, "on": True, "tags": ["a", "b"]})
    store.put(("p",), "dee", {"author": "Dee", "n": 4, "score": 4.0, "on": True, "tags": ["b"]})


def _found(store: BaseStore, filter: dict[str, Any], **kwargs: Any) -> list[str]:
    return sorted(keys(store.search(("p",), filter=filter, limit=100, **kwargs)))


@case("sqlite test_search, test_search_items; checkpoint test_vector_search_with_filters")
def filter_equality_and_conjunction(make: Make) -> None:
    store = make()
    _people(store)
    check(_found(store, {"author": "Ada"}) == ["ada", "cy"], "author Ada")
    check(_found(store, {"author": "Ada", "n": 3}) == ["cy"], "two keys are ANDed")
    check(_found(store, {"author": "Zed"}) == [], "no match")


@case("checkpoint-postgres/sqlite filter operators ($eq, $ne)")
def filter_eq_ne(make: Make) -> None:
    store = make()
    _people(store)
    check(_found(store, {"author": {"$eq": "Bob"}}) == ["bob"], "$eq")
    check(_found(store, {"author": {"$ne": "Ada"}}) == ["bob", "dee"], "$ne")


@case("sqlite test_numeric_filter_safety; checkpoint test_vector_search_with_filters")
def filter_ranges(make: Make) -> None:
    store = make()
    _people(store)
    check(_found(store, {"n": {"$gt": 2}}) == ["cy", "dee"], "$gt")
    check(_found(store, {"n": {"$gte": 2}}) == ["bob", "cy", "dee"], "$gte")
    check(_found(store, {"n": {"$lt": 2}}) == ["ada"], "$lt")
    check(_found(store, {"n": {"$lte": 2}}) == ["ada", "bob"], "$lte")
    check(_found(store, {"score": {"$gt": 3.2, "$lt": 4.2}}) == ["cy", "dee"], "range of floats")
    check(_found(store, {"score": {"$gte": 4.0}, "author": "Dee"}) == ["dee"], "range and key")


@case("sqlite test_boolean_filter_safety")
def filter_booleans(make: Make) -> None:
    store = make()
    _people(store)
    check(_found(store, {"on": True}) == ["ada", "cy", "dee"], "True")
    check(_found(store, {"on": False}) == ["bob"], "False")


@case("sqlite test_search_items (list values)")
def filter_list_values(make: Make) -> None:
    store = make()
    _people(store)
    check(_found(store, {"tags": ["b"]}) == ["bob", "dee"], "tags == ['b']")


@case("JSONB-style nested filter (InMemoryStore _compare_values, PostgresStore @>)")
def filter_nested_object(make: Make) -> None:
    store = make()
    store.put(("p",), "x", {"user": {"city": "Lisbon", "age": 30}})
    store.put(("p",), "y", {"user": {"city": "Porto", "age": 40}})
    check(_found(store, {"user": {"city": "Lisbon"}}) == ["x"], "nested object")


@case("sqlite test_filter_keys_with_hyphens_and_digits")
def filter_dotted_paths_and_odd_keys(make: Make) -> None:
    store = make()
    store.put(("p",), "hyphen", {"access-level": "public", "user": {"access-level": "nested"}})
    store.put(("p",), "digit", {"123abc": "ok", "user": {"123abc": "ok2"}})
    check(_found(store, {"access-level": "public"}) == ["hyphen"], "hyphenated key")
    check(_found(store, {"123abc": "ok"}) == ["digit"], "digit-first key")
    check(_found(store, {"user.access-level": "nested"}) == ["hyphen"], "dotted path")
    check(_found(store, {"user.123abc": "ok2"}) == ["digit"], "dotted path, digit key")


@case("sqlite test_sql_injection_filter_values")
def filter_values_are_literal(make: Make) -> None:
    store = make()
    store.put(("p",), "d1", {"access": "public"})
    store.put(("p",), "d2", {"access": "secret"})
    store.put(("p",), "d3", {"title": "O'Brien's notes"})
    for value in ["public' OR '1'='1", "public'; --", "''''", "public\x00' OR '1'='1"]:
        check(_found(store, {"access": value}) == [], f"{value!r} matched")
    check(_found(store, {"title": "O'Brien's notes"}) == ["d3"], "a quote in a real value")


@case("sqlite test_numeric_filter_safety")
def filter_special_numbers(make: Make) -> None:
    store = make()
    for k, price in [("a", 10), ("b", 20), ("c", -10)]:
        store.put(("p",), k, {"price": price})
    check(_found(store, {"price": {"$lt": float("inf")}}) == ["a", "b", "c"], "inf")
    check(_found(store, {"price": {"$gt": float("-inf")}}) == ["a", "b", "c"], "-inf")
    check(_found(store, {"price": {"$eq": float("nan")}}) == [], "NaN equals nothing")
    check(_found(store, {"price": {"$lt": 10**100}}) == ["a", "b", "c"], "huge int")
    check(_found(store, {"price": {"$lt": 0}}) == ["c"], "negative")


@case("sqlite test_search_items (pagination)")
def search_limit_offset(make: Make) -> None:
    store = make()
    for i in range(5):
        store.put(("p",), f"k{i}", {"i": i})
    pages = [keys(store.search(("p",), limit=2, offset=o)) for o in (0, 2, 4)]
    check([len(p) for p in pages] == [2, 2, 1], f"page sizes {pages}")
    check(
        sorted(k for page in pages for k in page) == [f"k{i}" for i in range(5)],
        f"pages overlap: {pages}",
    )
    check(store.search(("p",), offset=5) == [], "offset past the end")


# list_namespaces (checkpoint test_list_namespaces_*, sqlite test_list_namespaces*).

TREE = [
    ("a", "b", "c"),
    ("a", "b", "d", "e"),
    ("a", "b", "d", "i"),
    ("a", "b", "f"),
    ("a", "c", "f"),
    ("b", "a", "f"),
    ("users", "123"),
    ("admin", "users", "789"),
    ("users", "456", "settings"),
]


def _tree(make: Make) -> BaseStore:
    store = make()
    for i, ns in enumerate(TREE):
        store.put(ns, f"id{i}", {"i": i})
    return store


@case("checkpoint test_list_namespaces_basic, test_list_namespaces_no_conditions")
def list_namespaces_prefix_suffix(make: Make) -> None:
    store = _tree(make)
    check(sorted(store.list_namespaces()) == sorted(TREE), "all")
    check(
        sorted(store.list_namespaces(prefix=("a", "b")))
        == [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f")],
        "prefix",
    )
    check(
        sorted(store.list_namespaces(suffix=("f",)))
        == [("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f")],
        "suffix",
    )
    check(
        sorted(store.list_namespaces(prefix=("a",), suffix=("f",)))
        == [("a", "b", "f"), ("a", "c", "f")],
        "prefix and suffix",
    )
    check(store.list_namespaces(prefix=("nonexistent",)) == [], "unknown prefix")
    check(store.list_namespaces(prefix=("users", "123")) == [("users", "123")], "exact")


@case("checkpoint test_list_namespaces_with_wildcards")
def list_namespaces_wildcards(make: Make) -> None:
    store = _tree(make)
    check(
        sorted(store.list_namespaces(prefix=("a", "*", "f"))) == [("a", "b", "f"), ("a", "c", "f")],
        "prefix wildcard",
    )
    check(
        sorted(store.list_namespaces(suffix=("*", "f")))
        == [("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f")],
        "suffix wildcard",
    )
    check(
        sorted(store.list_namespaces(prefix=("users", "*")))
        == [("users", "123"), ("users", "456", "settings")],
        "trailing wildcard",
    )
    check(store.list_namespaces(prefix=("*", "users"), suffix=("*", "settings")) == [], "none")


@case("checkpoint test_list_namespaces_max_depth")
def list_namespaces_max_depth(make: Make) -> None:
    store = _tree(make)
    check(
        sorted(store.list_namespaces(prefix=("a", "b"), max_depth=3))
        == [("a", "b", "c"), ("a", "b", "d"), ("a", "b", "f")],
        "max_depth truncates and removes duplicates",
    )
    shallow = store.list_namespaces(max_depth=2)
    check(len(shallow) == len(set(shallow)) and all(len(ns) <= 2 for ns in shallow), "depth 2")
    check(("users", "123") in shallow and ("a", "b") in shallow, f"depth 2 {shallow}")


@case("checkpoint test_list_namespaces_pagination")
def list_namespaces_limit_offset(make: Make) -> None:
    store = make()
    for i in reversed(range(12)):  # stored out of order: the listing is sorted
        store.put(("ns", f"sub{i:02d}"), "k", {"i": i})
    for offset in (0, 5, 10):
        page = store.list_namespaces(prefix=("ns",), limit=5, offset=offset)
        wanted = [("ns", f"sub{i:02d}") for i in range(offset, min(12, offset + 5))]
        check(page == wanted, f"offset {offset}: {page}")


@case("checkpoint test_list_namespaces_empty_store")
def list_namespaces_empty_store(make: Make) -> None:
    check(make().list_namespaces() == [], "an empty store lists namespaces")


@case("sqlite test_list_namespaces_segment_boundary")
def list_namespaces_label_boundary(make: Make) -> None:
    store = make()
    for ns in [("foo",), ("foo", "c"), ("foobar",), ("u", "x", "alice"), ("u", "x", "malice")]:
        store.put(ns, "k", {"n": 1})
    store.put(("u", "a", "b", "alice"), "k", {"n": 1})
    check(set(store.list_namespaces(prefix=("foo",))) == {("foo",), ("foo", "c")}, "prefix")
    check(
        set(store.list_namespaces(suffix=("alice",)))
        == {("u", "x", "alice"), ("u", "a", "b", "alice")},
        "suffix matches whole labels",
    )
    check(
        set(store.list_namespaces(prefix=("u", "*", "alice"))) == {("u", "x", "alice")},
        "'*' is one label",
    )


@case(
    "sqlite test_list_namespaces_metacharacter_labels, test_namespace_labels_with_trailing_newline"
)
def list_namespaces_literal_labels(make: Make) -> None:
    store = make()
    for label, decoy in [("star*", "starX"), ("q?m", "qXm"), ("br[a]", "brXa"), ("u_1", "uX1")]:
        store.put((label,), "k", {"n": 1})
        store.put((decoy,), "k", {"n": 1})
        store.put((label, "child"), "k", {"n": 1})
        found = set(store.list_namespaces(prefix=(label,)))
        check(found == {(label,), (label, "child")}, f"{label!r}: {found}")
    store.put(("users", "alice"), "k", {"n": 1})
    store.put(("users", "alice\n"), "k", {"n": 2})
    check(set(store.list_namespaces(suffix=("alice",))) == {("users", "alice")}, "newline")


# Vector search (checkpoint test_vector_*, test_embed_with_path; sqlite test_scores...).


@case("checkpoint test_vector_insert_with_auto_embedding")
def vector_search_ranks_by_meaning(make: Make) -> None:
    store = make(indexed=True)
    for key, text in [
        ("d1", "red apple pie"),
        ("d2", "blue car engine"),
        ("d3", "green apple tree"),
        ("d4", "train station"),
    ]:
        store.put(("t",), key, {"text": text})
    found = store.search(("t",), query="apple pie")
    check(found[0].key == "d1" and found[1].key == "d3", f"ranking {keys(found)}")
    scores = [r.score for r in found]
    check(all(isinstance(s, float) for s in scores), f"scores {scores}")
    check(scores == sorted(scores, reverse=True), f"scores not descending {scores}")


@case("sqlite test_scores")
def vector_scores_are_cosine(make: Make) -> None:
    store = make(fields=["key0"])
    store.put(("t",), "doc", {"key0": "alpha beta gamma"}, index=["key0", "key1"])
    for query in ["alpha", "beta gamma", "alpha beta gamma delta", "poisson"]:
        found = store.search((), query=query)
        wanted = cosine(EMBED.embed_query(query), EMBED.embed_query("alpha beta gamma"))
        check(len(found) == 1, f"{query!r}: {len(found)} results")
        check(abs(found[0].score - wanted) < 1e-3, f"{query!r}: {found[0].score} != {wanted}")


@case("checkpoint test_vector_update_with_embedding")
def vector_update_reembeds(make: Make) -> None:
    store = make(indexed=True)
    store.put(("t",), "doc1", {"text": "zany zebra xerxes"})
    store.put(("t",), "doc2", {"text": "something about dogs"})
    store.put(("t",), "doc3", {"text": "text about birds"})
    before = store.search(("t",), query="zany xerxes")
    check(before[0].key == "doc1", f"before {keys(before)}")
    store.put(("t",), "doc1", {"text": "new words about dogs"})
    after = {r.key: r.score for r in store.search(("t",), query="zany xerxes")}
    check(after.get("doc1", 0.0) < before[0].score, "the old text still matches")
    new = store.search(("t",), query="new words about dogs")
    check(new[0].key == "doc1", f"the new text does not match: {keys(new)}")


@case("checkpoint test_vector_update_with_embedding (index=False)")
def vector_unindexed_item_not_ranked(make: Make) -> None:
    store = make(indexed=True)
    store.put(("t",), "doc1", {"text": "dogs bark"})
    store.put(("t",), "doc2", {"text": "birds sing"})
    store.put(("t",), "doc3", {"text": "dogs bark loudly"}, index=False)
    found = store.search(("t",), query="dogs bark loudly", limit=2)
    check("doc3" not in keys(found), f"an unindexed item ranked: {keys(found)}")
    check(store.get(("t",), "doc3") is not None, "get of an unindexed item")
    check("doc3" in keys(store.search(("t",))), "search without a query misses it")


@case("checkpoint test_embed_with_path (doc5: index=False, score None)")
def vector_unindexed_items_fill_the_page(make: Make) -> None:
    store = make(indexed=True)
    store.put(("t",), "doc1", {"text": "dogs bark"})
    store.put(("t",), "doc2", {"text": "hhh iii"}, index=False)
    found = store.search(("t",), query="hhh", limit=10)
    check(keys(found) == ["doc1", "doc2"], f"found {keys(found)}")
    check(found[0].score is not None and found[1].score is None, "scores")


@case("checkpoint test_vector_search_with_filters")
def vector_search_with_filters(make: Make) -> None:
    store = make(fields=["text"])
    for key, value in [
        ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
        ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
        ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
        ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
    ]:
        store.put(("t",), key, value)
    found = store.search(("t",), query="apple", filter={"color": "red"})
    check(keys(found) == ["doc1", "doc2"], f"apple/red {keys(found)}")
    found = store.search(("t",), query="blue", filter={"score": {"$gt": 3.2}})
    check(len(found) == 3 and found[0].key == "doc4", f"blue/>3.2 {keys(found)}")
    found = store.search(("t",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"})
    check(keys(found) == ["doc3"], f"two filters {keys(found)}")


@case("checkpoint test_vector_search_pagination")
def vector_search_limit_offset(make: Make) -> None:
    store = make(indexed=True)
    for i in range(5):
        store.put(("t",), f"doc{i}", {"text": f"test document number {i}"})
    first = keys(store.search(("t",), query="test", limit=2))
    second = keys(store.search(("t",), query="test", limit=2, offset=2))
    check(len(first) == 2 and len(second) == 2 and not set(first) & set(second), "pages")
    check(len(store.search(("t",), query="test", limit=10)) == 5, "limit past the count")


@case("sqlite test_vector_search_edge_cases")
def vector_search_odd_queries(make: Make) -> None:
    store = make(indexed=True)
    store.put(("t",), "doc1", {"text": "test document"})
    for query in ["", None, "test " * 100, "test!@#$%^&*()", "zzz unknown words"]:
        check(len(store.search(("t",), query=query)) == 1, f"query {query!r}"[:40])


@case("checkpoint/sqlite test_embed_with_path")
def vector_fields_of_the_index_config(make: Make) -> None:
    store = make(fields=["key0", "key1", "key3"])
    store.put(("t",), "doc1", {"key1": "xxx", "key2": "yyy", "key3": "zzz"})  # no key0: fine
    store.put(("t",), "doc2", {"key0": "uuu", "key1": "vvv", "key2": "www", "key3": "xxx"})
    found = store.search(("t",), query="xxx")
    check(len(found) == 2 and abs(found[0].score - found[1].score) < 1e-5, "max over fields")
    check(found[0].score > 0.99, f"a field equal to the query scores {found[0].score}")
    found = store.search(("t",), query="uuu")
    check(found[0].key == "doc2" and found[0].score > found[1].score, "uuu")
    found = store.search(("t",), query="zzz")
    check(found[0].key == "doc1" and found[0].score > found[1].score, "zzz")
    found = store.search(("t",), query="www")  # only in key2, which is not indexed
    check(len(found) == 2 and all(r.score < 0.9 for r in found), "an unindexed field matched")


@case("checkpoint test_embed_with_path; sqlite test_embed_with_path_operation_config")
def vector_fields_of_the_put(make: Make) -> None:
    store = make(fields=["key17"])
    store.put(("t",), "doc3", {"key0": "aaa", "key1": "bbb", "key2": "ccc"}, index=["key0", "key1"])
    store.put(("t",), "doc4", {"key0": "eee", "key1": "bbb", "key3": "ggg"}, index=["key1", "key3"])
    found = store.search(("t",), query="aaa")
    check(found[0].key == "doc3" and found[0].score > found[1].score, f"aaa {keys(found)}")
    found = store.search(("t",), query="ggg")
    check(found[0].key == "doc4" and found[0].score > found[1].score, f"ggg {keys(found)}")
    found = store.search(("t",), query="bbb")
    check(len(found) == 2 and abs(found[0].score - found[1].score) < 1e-5, "bbb in both")
    found = store.search(("t",), query="ccc")
    check(all(r.score < 0.9 for r in found), "a field outside the put's index matched")


@case("checkpoint/sqlite test_non_ascii")
def vector_non_ascii(make: Make) -> None:
    store = make(indexed=True)
    texts = ["这是中文", "これは日本語です", "이건 한국어야", "Это русский", "यह रूसी है"]
    for i, text in enumerate(texts):
        store.put(("user_123", "memories"), str(i), {"text": text})
    for i, text in enumerate(texts):
        found = store.search(("user_123", "memories"), query=text)
        check(found[0].key == str(i), f"{text}: {keys(found)}")


@case("sqlite test_scores (search over ()), test_search_items")
def vector_search_across_namespaces(make: Make) -> None:
    store = make(indexed=True)
    store.put(("users", "ada"), "a1", {"text": "ada plays chess"})
    store.put(("users", "bob"), "b1", {"text": "bob plays chess too"})
    store.put(("teams", "red"), "t1", {"text": "red team plays chess"})
    check(
        spaces(store.search(("users",), query="chess")) == {("users", "ada"), ("users", "bob")}, ""
    )
    check(len(store.search((), query="chess")) == 3, "query over the empty prefix")


# Async variants (sqlite test_async_store; checkpoint test_async_*).


@case("sqlite test_async_store test_basic_store_ops, test_list_namespaces, test_search_items")
async def async_operations(make: Make) -> None:
    store = make(indexed=True)
    await store.aput(("a", "x"), "k1", {"text": "apple pie", "n": 1})
    await store.aput(("a", "y"), "k2", {"text": "car engine", "n": 2})
    check((await store.aget(("a", "x"), "k1")).value["n"] == 1, "aget")
    found = await store.asearch(("a",), query="apple")
    check(found[0].key == "k1" and found[0].score is not None, "asearch with a query")
    check(keys(await store.asearch(("a",), filter={"n": 2})) == ["k2"], "asearch with a filter")
    check(sorted(await store.alist_namespaces(prefix=("a",))) == [("a", "x"), ("a", "y")], "")
    await store.adelete(("a", "x"), "k1")
    check(await store.aget(("a", "x"), "k1") is None, "adelete")


@case("checkpoint test_async_batched_vector_search_concurrent")
async def async_concurrent_operations(make: Make) -> None:
    store = make(fields=["text"])
    colors, things = ["red", "blue", "green", "yellow", "purple"], ["apple", "car", "house"]
    await asyncio.gather(
        *(
            store.aput(
                ("t",),
                f"doc{i}",
                {"text": f"{colors[i % 5]} {things[i % 3]}", "i": i, "c": colors[i % 5]},
            )
            for i in range(50)
        )
    )
    searches = [
        ("apple", {"c": "red"}),
        ("car", {"i": {"$gt": 25}}),
        ("house", {"i": {"$lte": 10}}),
    ]
    results = await asyncio.gather(
        *(store.asearch(("t",), query=q, filter=f, limit=50) for q, f in searches)
    )
    red = [r.value["i"] for r in results[0]]
    check(sorted(red) == list(range(0, 50, 5)), f"red {red}")
    check(sorted(r.value["i"] for r in results[1]) == list(range(26, 50)), "i > 25")
    check(sorted(r.value["i"] for r in results[2]) == list(range(11)), "i <= 10")


# TTL (checkpoint-postgres test_store_ttl; BaseStore.put's ttl and refresh_ttl contract).
# SqliteStore (the control) compares expiry times with CURRENT_TIMESTAMP, whole seconds: an
# item may outlive its TTL by up to a second there, so the checks leave that margin.
TTL_SECONDS = 2.0
MARGIN = 1.2


def _sweep(store: BaseStore) -> None:
    """Stores delete expired items "opportunistically" (PostgresStore and SqliteStore run a
    sweeper thread; the postgres test runs it): sweep now where the store can."""
    if hasattr(store, "sweep_ttl"):
        store.sweep_ttl()


@case("checkpoint-postgres test_store_ttl")
def ttl_items_expire(make: Make) -> None:
    store = make(ttl={"refresh_on_read": True})
    store.put(("t",), "short", {"n": 1}, ttl=TTL_SECONDS / 60)
    store.put(("t",), "forever", {"n": 2})
    store.put(("gone",), "x", {"n": 1}, ttl=TTL_SECONDS / 60)
    check(store.get(("t",), "short", refresh_ttl=False) is not None, "gone at once")
    time.sleep(TTL_SECONDS + MARGIN)
    _sweep(store)
    check(store.get(("t",), "short", refresh_ttl=False) is None, "get after expiry")
    check(keys(store.search(("t",), refresh_ttl=False)) == ["forever"], "search after expiry")
    check(("gone",) not in store.list_namespaces(), "list_namespaces after expiry")


@case("checkpoint-postgres test_store_ttl (refresh_ttl)")
def ttl_refresh_on_read(make: Make) -> None:
    store = make(ttl={"refresh_on_read": True})
    ttl = 1.5 * TTL_SECONDS  # read at half of it, checked at ttl + MARGIN (< 1.5 ttl)
    for key in ("by_get", "by_search", "unread", "not_refreshed"):
        store.put(("t", key), key, {"k": key}, ttl=ttl / 60)
    time.sleep(ttl / 2)
    store.get(("t", "by_get"), "by_get", refresh_ttl=True)
    store.search(("t", "by_search"), refresh_ttl=True)
    store.get(("t", "not_refreshed"), "not_refreshed", refresh_ttl=False)
    time.sleep(ttl / 2 + MARGIN)
    _sweep(store)
    live = {key for key in ("by_get", "by_search", "unread", "not_refreshed")
            if store.get(("t", key), key, refresh_ttl=False) is not None}  # fmt: skip
    check(live == {"by_get", "by_search"}, f"alive after one TTL: {sorted(live)}")


@case("BaseStore.put ttl contract (TTLConfig default_ttl)")
def ttl_default_from_config(make: Make) -> None:
    store = make(ttl={"default_ttl": TTL_SECONDS / 60, "refresh_on_read": False})
    store.put(("t",), "default", {"n": 1})
    store.put(("t",), "never", {"n": 2}, ttl=None)
    time.sleep(TTL_SECONDS + MARGIN)
    _sweep(store)
    check(store.get(("t",), "default") is None, "default_ttl not applied")
    check(store.get(("t",), "never") is not None, "ttl=None expired")


# The stores the cases run on.


def _index(fields: list[str] | None, indexed: bool, key: str = "fields") -> dict[str, Any] | None:
    if fields is None and not indexed:
        return None
    config: dict[str, Any] = {"dims": DIMS, "embed": EMBED}
    if fields is not None:
        config[key] = fields
    return config


def store_makers(workdir: Path) -> dict[str, Callable[[], Make]]:
    counter = iter(range(1_000_000))

    def sqlite_vec() -> Make:
        def make(fields=None, indexed=False, ttl=None) -> BaseStore:
            path = workdir / f"vec-{next(counter)}.sqlite"
            return SqliteVecStore(path, index=_index(fields, indexed), ttl=ttl)

        return make

    def in_memory() -> Make:
        def make(fields=None, indexed=False, ttl=None) -> BaseStore:
            if ttl is not None:
                raise NotApplicable("InMemoryStore has no TTL")
            return InMemoryStore(index=_index(fields, indexed))

        return make

    def sqlite_store() -> Make:
        # sqlite-vec loads through pysqlite3 only on this machine (see the brief).
        import pysqlite3.dbapi2 as sqlite

        def make(fields=None, indexed=False, ttl=None) -> BaseStore:
            path = workdir / f"lg-{next(counter)}.sqlite"
            conn = sqlite.connect(str(path), check_same_thread=False, isolation_level=None)
            store = SqliteStore(conn, index=_index(fields, indexed, "text_fields"), ttl=ttl)
            store.setup()
            return store

        return make

    return {"SqliteVecStore": sqlite_vec, "InMemoryStore": in_memory, "SqliteStore": sqlite_store}


def run_case(fn: Callable[[Make], Any], make: Make, control: bool) -> tuple[bool | None, str]:
    """(True, "") when the behaviour holds, (False, why) when not, (None, why) if n/a.

    A control store that raises NotImplementedError lacks the feature (SqliteStore's async
    methods: AsyncSqliteStore has them): n/a. Ours raising it is a behaviour that fails.
    """
    try:
        outcome = fn(make)
        if inspect.isawaitable(outcome):
            asyncio.run(outcome)
        return True, ""
    except NotApplicable as why:
        return None, str(why)
    except NotImplementedError as why:
        if control:
            return None, str(why).splitlines()[0]
        return False, f"NotImplementedError: {why}"
    except AssertionError as why:
        return False, str(why) or "assertion failed"
    except Exception as error:  # a crash is a behaviour that does not hold
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return (
            False,
            f"{type(error).__name__}: {error} ({Path(frame.filename).name}:{frame.lineno})",
        )


def check_stores(workdir: Path) -> dict[str, dict[str, tuple[bool | None, str]]]:
    results: dict[str, dict[str, tuple[bool | None, str]]] = {}
    for store_name, maker in store_makers(workdir).items():
        make = maker()
        control = store_name != "SqliteVecStore"
        results[store_name] = {c.name: run_case(c.run, make, control) for c in CASES}
    return results


def held(outcomes: dict[str, tuple[bool | None, str]]) -> tuple[int, int]:
    """(held, applicable) of one store's outcomes."""
    applicable = [ok for ok, _ in outcomes.values() if ok is not None]
    return sum(applicable), len(applicable)


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("turns", nargs="*", type=int, default=[10, 1000])
    parser.add_argument("--durability", choices=["exit", "async", "sync"], default="exit")
    parser.add_argument("--data", type=Path, default=LOCOMO, help="LoCoMo-format file replayed")
    parser.add_argument("--synthetic", action="store_true", help="SYNTHETIC random words")
    add_figures_argument(parser)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "peer-warm-up").mkdir()
        warm_up(work, args.durability)
        warm_up_peer(work, args.durability)
        print(
            f"window {WINDOW} tokens, durability={args.durability}; langmem SummarizationNode "
            f"max_tokens={PEER_MAX_TOKENS}, max_tokens_before_summary="
            f"{PEER_TOKENS_BEFORE_SUMMARY}, max_summary_tokens={PEER_SUMMARY_TOKENS}"
        )
        print(
            f"{'turns':>7}  {'agent':<50} {'p50 ms':>8} {'p95 ms':>8} {'KB/turn':>9} {'file MB':>8}"
        )
        for turns in args.turns:
            peer = run_peer(turns, work, args.durability, args.data, args.synthetic)
            conversation = Conversation(args.data, synthetic=args.synthetic)
            ours = run_ours(turns, work, conversation, args.durability)
            for name, r in [
                (f"langmem SummarizationNode, SqliteSaver ({peer['summaries']} summaries)", peer),
                ("langgraph-memgpt, our saver", ours),
            ]:
                print(
                    f"{turns:>7}  {name:<50} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} "
                    f"{r['bytes_per_turn_tail'] / 1000:>9.1f} {r['bytes_total'] / 1e6:>8.2f}",
                    flush=True,
                )
            rows.append((turns, peer, ours))
        floor = langgraph_floor(work, args.durability)
        print(f"LangGraph floor on this machine (3 empty nodes, our saver): {floor:.2f} ms")

        results = check_stores(work / "stores")
    print()
    names = list(results)
    print(f"{'store behaviour':<40} " + " ".join(f"{n:>14}" for n in names))
    mark = {True: "holds", False: "NOT", None: "n/a"}
    for c in CASES:
        print(f"{c.name:<40} " + " ".join(f"{mark[results[n][c.name][0]]:>14}" for n in names))
    for name in names:
        for c in CASES:
            ok, why = results[name][c.name]
            if ok is False:
                print(f"  {name}: {c.name} does not hold ({c.source}): {why}")
    counts = {name: held(results[name]) for name in names}
    first, last = rows[0], rows[-1]
    peers_line = (
        f"peers: langmem SummarizationNode {first[1]['p50_ms']:.1f} ms/turn at {first[0]} turns, "
        f"{last[1]['p50_ms']:.1f} ms at {last[0]} turns (ours {first[2]['p50_ms']:.1f} / "
        f"{last[2]['p50_ms']:.1f} ms), {last[1]['bytes_per_turn_tail'] / 1000:.1f} KB/turn "
        f"(ours {last[2]['bytes_per_turn_tail'] / 1000:.1f} KB)"
    )
    vec_held, vec_total = counts["SqliteVecStore"]
    controls = ", ".join(f"{n} {counts[n][0]} of {counts[n][1]}" for n in names[1:])
    store_line = f"store behaviours: {vec_held} of {vec_total} hold in SqliteVecStore ({controls})"
    print(peers_line)
    print(store_line)
    table = [
        [turns, agent, r["p50_ms"], r["p95_ms"], r["bytes_per_turn_tail"] / 1000]
        for turns, peer, ours in rows
        for agent, r in (("langmem SummarizationNode", peer), ("langgraph-memgpt", ours))
    ]
    not_held = [
        f"{c.name} ({c.source}): {results['SqliteVecStore'][c.name][1]}"
        for c in CASES
        if results["SqliteVecStore"][c.name][0] is False
    ]
    record(
        args.figures,
        "peers",
        summary=[peers_line, store_line],
        columns=["turns", "agent", "p50 ms (all but model calls)", "p95 ms", "KB/turn"],
        rows=table,
        notes=[f"LangGraph floor in the same run: {floor:.2f} ms."]
        + [f"Not held in SqliteVecStore: {line}" for line in not_held],
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LANGSMITH_TRACING", "false")
    sys.exit(main())
