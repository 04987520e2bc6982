"""VectorStoreArchive on Chroma (persistent directory, real embedding model): LangGraph store
semantics against InMemoryStore, the archival tools with hybrid search, per-user isolation,
persistence across processes, and no network."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.messages import ToolMessage
from langchain_core.vectorstores import InMemoryVectorStore
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import PutOp
from langgraph.store.memory import InMemoryStore
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.archival.vectorstore import VectorStoreArchive, open_chroma_archive
from langgraph_memgpt.embeddings import load_embedding_model
from langgraph_memgpt.memory.archive import hybrid_search
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn
from store_semantics import assert_same_as_in_memory

pytestmark = pytest.mark.integration
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ADA, BOB = ("archival", "ada"), ("archival", "bob")


@pytest.fixture(scope="module")
def embeddings() -> Embeddings:
    return load_embedding_model().embeddings


def run_calls(store: Any, user: str, *calls: dict, thread: str = "t1", **context: Any) -> list:
    """One turn in which the model makes ``calls`` (chained), then replies: the tool results."""
    script = [tool_turn(c) for c in calls] + [reply("done")]
    agent = build_graph(ScriptedChatModel(script=script), checkpointer=InMemorySaver(), store=store)
    state = agent.invoke(
        {"messages": [("user", "go")]},
        {"configurable": {"thread_id": thread}},
        context=Context(user_id=user, archival_page_size=2, **context),
    )
    return [m for m in state["messages"] if isinstance(m, ToolMessage)][:-1]


def insert(content: str, **args: Any) -> dict:
    return call("archival_memory_insert", content=content, request_heartbeat=True, **args)


def search(query: str, **args: Any) -> dict:
    return call("archival_memory_search", query=query, request_heartbeat=True, **args)


def test_same_results_as_in_memory_store(tmp_path, embeddings) -> None:
    reference = InMemoryStore(index={"dims": 384, "embed": embeddings, "fields": ["content"]})
    ours = open_chroma_archive(tmp_path / "chroma")
    # Chroma computes cosine distances in float32: scores agree to about 1e-6.
    assert_same_as_in_memory(ours, reference, score_tolerance=1e-4)


async def test_async_operations(tmp_path) -> None:
    archive = open_chroma_archive(tmp_path / "chroma")
    await archive.aput(ADA, "k", {"content": "Ada's cat is called Miso", "tags": ["pet"]})
    item = await archive.aget(ADA, "k")
    assert item.value == {"content": "Ada's cat is called Miso", "tags": ["pet"]}
    found = await archive.asearch(ADA, query="Ada's cat is called Miso")
    assert found[0].key == "k" and found[0].score == pytest.approx(1.0, abs=1e-4)
    assert [i.key for i in await archive.asearch(("archival",))] == ["k"]
    assert await archive.alist_namespaces() == [ADA]
    await archive.adelete(ADA, "k")
    assert await archive.aget(ADA, "k") is None
    assert await archive.akeyword_search(ADA, "cat") == []


def test_an_update_keeps_creation_time_and_replaces_the_text(tmp_path) -> None:
    archive = open_chroma_archive(tmp_path / "chroma")
    archive.put(ADA, "k", {"content": "Ada lives in Lisbon", "city": "Lisbon"})
    first = archive.get(ADA, "k")
    archive.put(ADA, "k", {"content": "Ada moved to Porto"})
    second = archive.get(ADA, "k")
    assert second.value == {"content": "Ada moved to Porto"}  # no stale fields
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    assert archive.search(ADA, query="Porto", limit=1)[0].key == "k"
    assert archive.keyword_search(ADA, "Lisbon") == []
    assert archive.count(ADA) == 1


def test_archival_tools_with_hybrid_search_tags_dates_and_pages(tmp_path) -> None:
    archive = open_chroma_archive(tmp_path / "chroma")
    results = run_calls(
        archive,
        "ada",
        insert("Ada's cat Miso loves tuna", tags=["Pets", "cat"]),
        insert("Ada's dog Rex hates tuna", tags=["pets"]),
        insert("Tuna sandwich recipe: tuna, mayonnaise, lemon", tags=["food"]),
        search("tuna"),
        search("tuna", page=1),
        search("tuna", tags=["pets", "cat"], tag_match="all"),
        search("tuna", end_datetime="2000-01-01"),
    )
    results += run_calls(
        archive,
        "ada",
        insert("The warranty claim for the dishwasher is filed under reference QZ7781."),
        search("QZ7781"),
    )
    assert all(r.status == "success" for r in results), [r.content for r in results]
    assert results[0].content.startswith("Stored in archival memory as p-")
    first, second, tagged, dated, _, code = (r.content for r in results[3:])
    assert first.splitlines()[0] == "Showing 2 of 3 results (page 1/2):"
    assert "relevance" in first and "similarity" in first and "id=p-" in first
    assert second.splitlines()[0] == "Showing 1 of 3 results (page 2/2):"
    assert tagged.splitlines()[0].startswith("Showing 1 of 1") and "Miso" in tagged
    assert "tags: cat, pets" in tagged
    assert dated.startswith("No archival passages match")
    assert "QZ7781" in code.splitlines()[1]  # the exact code ranks first
    # Keyword search is a ranking of its own: with semantic hits cut off by the similarity
    # threshold, the passage holding the code is still found (by Chroma's text filter).
    strict = run_calls(archive, "ada", search("QZ7781"), archival_min_similarity=0.99)
    assert "QZ7781" in strict[0].content and "similarity" not in strict[0].content
    assert [key for key, _ in archive.keyword_search(ADA, "tuna")][-1:] != []
    ranked = hybrid_search(archive, ADA, "dishwasher warranty QZ7781")
    assert "QZ7781" in ranked[0][0].value["content"]


def test_long_content_is_stored_as_passages_with_a_shared_source(tmp_path) -> None:
    archive = open_chroma_archive(tmp_path / "chroma")
    document = " ".join(f"Sentence {i} of a long document about lighthouses." for i in range(400))
    results = run_calls(archive, "ada", insert(document))
    assert "passages" in results[0].content
    items = archive.search(ADA, limit=100)
    assert len(items) > 5 and archive.count(ADA) == len(items)
    assert len({i.value["source_id"] for i in items}) == 1
    assert sorted(i.value["chunk"] for i in items) == list(range(len(items)))
    assert "".join(i.value["content"] for i in items).count("Sentence 399") == 1


def test_users_never_see_each_others_passages_even_for_verbatim_quotes(tmp_path) -> None:
    archive = open_chroma_archive(tmp_path / "chroma")
    secret = "Ada's locker code is 7781 and she hides the key under the blue mat"
    run_calls(archive, "ada", insert(secret))
    run_calls(archive, "bob", insert("Bob collects stamps"), insert("Bob's bike is blue"))
    for query in (secret, "locker code 7781", "blue mat key"):
        found = run_calls(archive, "bob", search(query), thread="t2")
        assert "7781" not in found[0].content and "Ada" not in found[0].content
        assert "Bob" in found[0].content
    keyword_hits = [archive.get(BOB, key) for key, _ in archive.keyword_search(BOB, secret)]
    assert [i.value["content"] for i in keyword_hits] == ["Bob's bike is blue"]  # "blue"
    assert [k for k, _ in archive.keyword_search(ADA, "locker")] != []

    # The namespace is part of the backend query itself, not a filter applied afterwards:
    # record what the adapter asks Chroma for, then ask Chroma directly with it.
    backend = archive.vectorstore
    asked: list[Any] = []
    original = backend.similarity_search_with_score

    def recording(query: str, k: int = 4, **kwargs: Any) -> list:
        asked.append(kwargs.get("filter"))
        return original(query, k=k, **kwargs)

    backend.similarity_search_with_score = recording  # type: ignore[method-assign]
    try:
        assert [i.value["content"] for i in archive.search(BOB, query=secret, limit=10)] == [
            "Bob's bike is blue",
            "Bob collects stamps",
        ]
    finally:
        del backend.similarity_search_with_score
    (where,) = asked
    hits = backend.similarity_search_with_score(secret, k=10, filter=where)
    assert hits and {json.loads(d.metadata["namespace"])[1] for d, _ in hits} == {"bob"}
    assert where == {"ns_2": {"$eq": "archival.bob"}}


def test_persists_across_reopening_in_another_process(tmp_path) -> None:
    path = tmp_path / "chroma"
    archive = open_chroma_archive(path)
    run_calls(archive, "ada", insert("Ada's cat Miso loves tuna", tags=["pets"]))
    run_calls(archive, "bob", insert("Bob collects stamps"))
    reader = textwrap.dedent(
        f"""
        import json
        from langgraph_memgpt.archival.vectorstore import open_chroma_archive
        archive = open_chroma_archive({str(path)!r})
        hits = archive.search(("archival", "ada"), query="What does the cat eat?", limit=5)
        print(json.dumps({{
            "hits": [[h.value["content"], h.value["tags"], round(h.score, 3)] for h in hits],
            "namespaces": archive.list_namespaces(),
            "keyword": [k for k, _ in archive.keyword_search(("archival", "ada"), "tuna")],
            "count": archive.count(("archival", "bob")),
        }}))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", reader], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert [h[:2] for h in seen["hits"]] == [["Ada's cat Miso loves tuna", ["pets"]]]
    assert seen["hits"][0][2] > 0.3
    assert seen["namespaces"] == [list(ADA), list(BOB)]
    assert len(seen["keyword"]) == 1 and seen["count"] == 1


def test_a_model_of_another_dimension_is_a_clear_error(tmp_path) -> None:
    open_chroma_archive(tmp_path / "chroma").put(ADA, "k", {"content": "hello"})
    with pytest.raises(ValueError, match="holds 384-dimension vectors"):
        open_chroma_archive(tmp_path / "chroma", DeterministicFakeEmbedding(size=64))


def test_bad_input_stores_nothing(tmp_path) -> None:
    archive = open_chroma_archive(tmp_path / "chroma")
    with pytest.raises(NotImplementedError, match="TTL is not supported"):
        archive.put(ADA, "k", {"content": "x"}, ttl=5)
    with pytest.raises(ValueError, match="not JSON-serializable"):
        archive.batch(
            [PutOp(ADA, "good", {"content": "fine"}), PutOp(ADA, "bad", {"content": object()})]
        )
    assert archive.count(ADA) == 0 and archive.search(("archival",)) == []


def test_nothing_reaches_the_network(tmp_path, monkeypatch) -> None:
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            attempts.append(address)
            raise OSError(f"network access attempted: {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    archive = open_chroma_archive(tmp_path / "chroma")
    run_calls(archive, "ada", insert("Ada's cat Miso loves tuna"), search("cat"))
    assert archive.search(ADA, query="cat")[0].value["content"] == "Ada's cat Miso loves tuna"
    assert attempts == []


def test_any_vector_store_in_memory(embeddings) -> None:
    """LangChain's InMemoryVectorStore: no listing and no text filter, but the archival tools
    work (semantic ranking plus the tools' own keyword re-ranking) and users stay apart."""
    archive = VectorStoreArchive(InMemoryVectorStore(embeddings))
    assert not hasattr(archive, "keyword_search") and not hasattr(archive, "count")
    secret = "Ada's locker code is 7781"
    run_calls(archive, "ada", insert(secret, tags=["codes"]))
    run_calls(archive, "bob", insert("Bob collects stamps"))
    found = run_calls(archive, "bob", search(secret))[0].content
    assert "7781" not in found and "Bob collects stamps" in found
    mine = run_calls(archive, "ada", search("locker", tags=["codes"]))[0].content
    assert mine.splitlines()[0].startswith("Showing 1 of 1") and "7781" in mine
    hit = archive.search(ADA, query=secret)[0]
    assert hit.value["content"] == secret and hit.score == pytest.approx(1.0, abs=1e-4)
    assert archive.get(ADA, hit.key).value["tags"] == ["codes"]
    with pytest.raises(NotImplementedError, match="cannot list documents"):
        archive.search(ADA)
    archive.delete(ADA, hit.key)
    assert archive.get(ADA, hit.key) is None
