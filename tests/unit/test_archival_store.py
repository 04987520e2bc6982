"""SqliteVecStore keeps LangGraph's BaseStore contract: same results as InMemoryStore."""

from __future__ import annotations

import time

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langgraph.store.base import PutOp
from langgraph.store.memory import InMemoryStore
from langgraph_memgpt import storage as driver_module
from langgraph_memgpt.archival import SqliteVecStore
from langgraph_memgpt.archival.bit_index import BitIndex
from langgraph_memgpt.storage import StorageError
from store_semantics import assert_same_as_in_memory

DIMS = 64


def index() -> dict:
    return {"dims": DIMS, "embed": DeterministicFakeEmbedding(size=DIMS), "fields": ["content"]}


def stores(tmp_path, memory_index: bool):
    ours = SqliteVecStore(tmp_path / "a.sqlite", index=index(), memory_index=memory_index)
    return InMemoryStore(index=index()), ours


@pytest.mark.parametrize("memory_index", [True, False], ids=["bits-in-memory", "bits-in-vec0"])
def test_same_results_as_in_memory_store(tmp_path, memory_index: bool) -> None:
    reference, ours = stores(tmp_path, memory_index)
    assert_same_as_in_memory(ours, reference)


def test_in_memory_bits_follow_writes_from_other_connections(tmp_path) -> None:
    """The in-memory first pass is a cache of the file: other writers' puts, updates and
    deletes show up in the next search, and so do our own."""
    path = tmp_path / "a.sqlite"
    reader, writer = SqliteVecStore(path, index=index()), SqliteVecStore(path, index=index())
    reader.put(("u",), "a", {"content": "apples"})
    assert [i.key for i in reader.search(("u",), query="apples")] == ["a"]

    writer.put(("u",), "b", {"content": "bananas"})
    writer.put(("u",), "a", {"content": "cherries"})  # an update: old vector deleted
    assert [i.key for i in reader.search(("u",), query="bananas", limit=1)] == ["b"]
    hit = reader.search(("u",), query="cherries", limit=1)[0]
    assert (hit.key, hit.value, hit.score) == ("a", {"content": "cherries"}, pytest.approx(1.0))

    writer.delete(("u",), "b")
    reader.delete(("u",), "a")
    assert reader.search(("u",), query="bananas") == []
    reader.put(("u",), "c", {"content": "dates"})
    assert [i.key for i in writer.search(("u",), query="dates")] == ["c"]
    assert [i.key for i in reader.search(("u",), query="dates")] == ["c"]


async def test_async_operations(tmp_path) -> None:
    store = SqliteVecStore(tmp_path / "a.sqlite", index=index())
    await store.aput(("u",), "k", {"content": "hello world"})
    assert (await store.aget(("u",), "k")).value == {"content": "hello world"}
    found = await store.asearch(("u",), query="hello world")
    assert found[0].key == "k" and found[0].score == pytest.approx(1.0, abs=1e-5)
    await store.adelete(("u",), "k")
    assert await store.aget(("u",), "k") is None


def test_ttl_expires_items(tmp_path) -> None:
    store = SqliteVecStore(tmp_path / "a.sqlite", index=index())
    store.put(("u",), "short", {"content": "brief"}, ttl=0.002)  # minutes: 0.12 s
    store.put(("u",), "long", {"content": "lasting"})
    assert store.get(("u",), "short") is not None
    time.sleep(0.3)
    assert store.get(("u",), "short") is None
    assert [i.key for i in store.search(("u",))] == ["long"]
    assert store.sweep_ttl() == 1


def test_dimension_mismatch_is_a_clear_error(tmp_path) -> None:
    SqliteVecStore(tmp_path / "a.sqlite", index=index()).put(("u",), "k", {"content": "x"})
    other = {"dims": 32, "embed": DeterministicFakeEmbedding(size=32), "fields": ["content"]}
    with pytest.raises(ValueError, match="holds 64-dimension vectors"):
        SqliteVecStore(tmp_path / "a.sqlite", index=other)


def test_no_extension_capable_driver_names_the_fix(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(driver_module, "_drivers", lambda: [])
    with pytest.raises(RuntimeError, match="pip install pysqlite3-binary"):
        SqliteVecStore(tmp_path / "b.sqlite")


def test_other_namespaces_are_never_returned_even_for_verbatim_quotes(tmp_path) -> None:
    store = SqliteVecStore(tmp_path / "a.sqlite", index=index())
    secret = "Ada's bank PIN is 4711 and her passport number is X123"
    store.put(("archival", "ada"), "s", {"content": secret})
    store.put(("archival", "bob"), "b", {"content": "Bob likes chess"})
    assert [i.key for i in store.search(("archival", "bob"), query=secret)] == ["b"]
    assert store.keyword_search(("archival", "bob"), secret) == []
    assert store.keyword_search(("archival", "ada"), "passport")[0][0] == "s"
    assert store.count(("archival", "bob")) == 1


def test_bit_index_shortlists_by_hamming_then_orders_by_int8() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 100)).astype(np.float32)  # 100 bits: padded words
    index = BitIndex(100)
    index.extend(np.arange(1, 1001), vectors[:1000])
    index.extend(np.arange(1001, 3001), vectors[1000:])
    index.remove([7, 8, 9])
    query = vectors[6] + 0.5 * rng.standard_normal(100).astype(np.float32)
    distance = np.unpackbits(np.packbits(vectors > 0, axis=1) ^ np.packbits(query > 0), axis=1)
    distance = distance.sum(axis=1)
    distance[[6, 7, 8]] = 999  # removed ids 7, 8, 9 (rows 6, 7, 8) must never come back

    shortlist = index.vector_ids[index.hamming_nearest(query, 500)]
    assert [distance[i - 1] for i in shortlist] == sorted(distance)[:500]
    found = index.nearest(query, 50)  # the 50 best of that shortlist by the int8 product

    exact = vectors[shortlist - 1] @ query
    assert set(shortlist[np.argsort(-exact)[:10]]) <= set(found), "int8 keeps the exact best"
    assert set(found) <= set(shortlist.tolist()) and len(set(found)) == 50
    assert not {7, 8, 9} & set(found)
    assert len(index.nearest(query, 10_000)) == 2997


def test_a_file_that_is_not_an_archive_is_refused_at_open(tmp_path) -> None:
    garbage, cut = tmp_path / "garbage.sqlite", tmp_path / "cut.sqlite"
    garbage.write_bytes(b"not a database, just some notes\n" * 200)
    store = SqliteVecStore(cut, index=index())
    store.put(("u",), "a", {"content": "x" * 50_000})
    store.close()
    with cut.open("r+b") as handle:
        handle.truncate(cut.stat().st_size // 2)

    for path, problem in ((garbage, "not an SQLite database"), (cut, "is truncated")):
        with pytest.raises(StorageError) as caught:
            SqliteVecStore(path, index=index())
        assert str(path) in str(caught.value) and problem in str(caught.value)
        assert "Fix:" in str(caught.value) and caught.value.problem == "corrupted"


def test_a_full_disk_fails_the_write_whole_and_the_store_stays_usable(tmp_path) -> None:
    store = SqliteVecStore(tmp_path / "a.sqlite", index=index())
    store.put(("u",), "a", {"content": "apples"})
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLite answers SQLITE_FULL

    with pytest.raises(StorageError, match="disk is full") as caught:
        store.batch([PutOp(("u",), f"k{n}", {"content": f"passage {n} " * 400}) for n in range(20)])

    assert caught.value.problem == "disk full" and str(tmp_path / "a.sqlite") in str(caught.value)
    assert [i.key for i in store.search(("u",), limit=50)] == ["a"]  # nothing of the batch
    assert [i.key for i in store.search(("u",), query="apples", limit=1)] == ["a"]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 1000}")
    store.put(("u",), "b", {"content": "bananas"})
    assert store.count(("u",)) == 2
