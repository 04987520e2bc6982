"""LangGraph ``BaseStore`` semantics, checked against ``InMemoryStore`` on the same operations.

Shared by the tests of every archive store (SqliteVecStore, VectorStoreArchive on Chroma): fill
both stores alike, then every search, get, listing and batch must give what ``InMemoryStore``
gives.
"""

from __future__ import annotations

from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)

SEARCHES: list[dict[str, Any]] = [
    dict(namespace_prefix=("users",)),
    dict(namespace_prefix=("users", "ada"), limit=2),
    dict(namespace_prefix=("users", "ada"), limit=2, offset=1),
    dict(namespace_prefix=("users",), filter={"tag": "sport"}),
    dict(namespace_prefix=("users",), filter={"n": {"$gt": 2}}),
    dict(namespace_prefix=("users",), filter={"n": {"$gte": 2, "$lt": 7}}),
    dict(namespace_prefix=("users",), filter={"tag": {"$ne": "pet"}}),
    dict(namespace_prefix=("users",), filter={"n": {"$lte": 3, "$eq": 3}}),
    dict(namespace_prefix=("nobody",)),
    dict(namespace_prefix=()),
]
QUERIES = ("cat", "Ada runs ultramarathons", "chess")
QUERY_PREFIXES: list[tuple[str, ...]] = [("users",), ("users", "ada"), ()]
LISTINGS: list[dict[str, Any]] = [
    dict(),
    dict(prefix=("users",)),
    dict(suffix=("ada",)),
    dict(max_depth=1),
    dict(limit=1, offset=1),
    dict(prefix=("users", "*")),
]


def fill(store: BaseStore) -> None:
    store.put(("users", "ada"), "p1", {"content": "Ada's cat is called Miso", "n": 1, "tag": "pet"})
    store.put(("users", "ada"), "p2", {"content": "Ada runs marathons", "n": 5, "tag": "sport"})
    store.put(("users", "ada"), "p3", {"content": "Ada lives in Lisbon", "n": 3, "tag": "home"})
    store.put(("users", "bob"), "p1", {"content": "Bob plays chess", "n": 2, "tag": "game"})
    store.put(("teams", "red", "ada"), "t1", {"content": "Red team notes", "n": 9})
    store.put(
        ("users", "ada"), "p2", {"content": "Ada runs ultramarathons", "n": 7, "tag": "sport"}
    )
    store.put(("users", "bob"), "gone", {"content": "temporary", "n": 0})
    store.put(("users", "bob"), "gone", None)


def view(items: list[SearchItem]) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
    return [(tuple(i.namespace), i.key, i.value) for i in items]


def assert_same_as_in_memory(
    ours: BaseStore, reference: BaseStore, *, score_tolerance: float = 1e-5
) -> None:
    """Fill both stores, then compare searches, scores, gets, listings and batch reads."""
    for store in (reference, ours):
        fill(store)
    for case in SEARCHES:
        case = dict(case)
        prefix = case.pop("namespace_prefix")
        got, expected = ours.search(prefix, **case), reference.search(prefix, **case)
        assert view(got) == view(expected), (prefix, case)
    for query in QUERIES:
        for prefix in QUERY_PREFIXES:
            expected = reference.search(prefix, query=query, limit=4)
            got = ours.search(prefix, query=query, limit=4)
            assert view(got) == view(expected), (query, prefix)
            for mine, theirs in zip(got, expected, strict=True):
                assert abs(mine.score - theirs.score) <= score_tolerance, (query, prefix)
        got = ours.search(("users",), query=query, filter={"tag": "sport"}, limit=3, offset=0)
        assert view(got) == view(
            reference.search(("users",), query=query, filter={"tag": "sport"}, limit=3)
        )
        got = ours.search(("users",), query=query, limit=2, offset=1)
        assert view(got) == view(reference.search(("users",), query=query, limit=2, offset=1))
    # (A get on a namespace that does not exist comes after the listings: InMemoryStore's get
    # creates an empty namespace that its list_namespaces then reports; ours does not.)
    for namespace, key in ((("users", "ada"), "p2"), (("users", "bob"), "gone")):
        mine, theirs = ours.get(namespace, key), reference.get(namespace, key)
        assert (mine.value if mine else None) == (theirs.value if theirs else None)
    for case in LISTINGS:
        assert ours.list_namespaces(**case) == reference.list_namespaces(**case), case
    assert ours.get(("x",), "y") is None and reference.get(("x",), "y") is None
    # A batch reads the store as it was before its own writes, like InMemoryStore.
    batch = [
        PutOp(("users", "cy"), "k", {"content": "new"}),
        GetOp(("users", "cy"), "k"),
        SearchOp(("users", "cy")),
        ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("users", "cy")),)),
    ]
    assert [type(r) for r in ours.batch(batch)] == [type(r) for r in reference.batch(batch)]
    assert ours.get(("users", "cy"), "k").value == {"content": "new"}
