"""Archival memory through the graph: insert, hybrid search, paging, tags, dates, isolation."""

from __future__ import annotations

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.archival import SqliteVecStore
from langgraph_memgpt.graph.prompts import memory_view
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn

DIMS = 64


def make_store(kind: str, tmp_path):
    index = {"dims": DIMS, "embed": DeterministicFakeEmbedding(size=DIMS), "fields": ["content"]}
    if kind == "sqlite-vec":
        return SqliteVecStore(tmp_path / "archive.sqlite", index=index)
    return InMemoryStore(index=index)


def run_calls(store, user: str, *calls, thread: str = "t1") -> list[ToolMessage]:
    """One turn in which the model makes ``calls`` (chained), then replies."""
    script = [tool_turn(c) for c in calls] + [reply("done")]
    agent = build_graph(ScriptedChatModel(script=script), checkpointer=InMemorySaver(), store=store)
    state = agent.invoke(
        {"messages": [("user", "go")]},
        {"configurable": {"thread_id": thread}},
        context=Context(user_id=user, archival_page_size=2),
    )
    return [m for m in state["messages"] if isinstance(m, ToolMessage)][:-1]


@pytest.mark.parametrize("kind", ["sqlite-vec", "in-memory"])
def test_insert_then_search_with_tags_dates_and_pages(kind, tmp_path) -> None:
    store = make_store(kind, tmp_path)
    results = run_calls(
        store,
        "ada",
        call(
            "archival_memory_insert",
            content="Ada's cat Miso loves tuna",
            tags=["Pets", "cat"],
            request_heartbeat=True,
        ),
        call(
            "archival_memory_insert",
            content="Ada's dog Rex hates tuna",
            tags=["pets"],
            request_heartbeat=True,
        ),
        call(
            "archival_memory_insert",
            content="Tuna sandwich recipe",
            tags=["food"],
            request_heartbeat=True,
        ),
        call("archival_memory_search", query="tuna", request_heartbeat=True),
        call("archival_memory_search", query="tuna", page=1, request_heartbeat=True),
        call(
            "archival_memory_search",
            query="tuna",
            tags=["pets", "cat"],
            tag_match="all",
            request_heartbeat=True,
        ),
        call(
            "archival_memory_search",
            query="tuna",
            end_datetime="2000-01-01",
            request_heartbeat=True,
        ),
    )
    assert all(r.status == "success" for r in results), [r.content for r in results]
    assert results[0].content.startswith("Stored in archival memory as p-")
    first, second, tagged, dated = (r.content for r in results[3:])
    assert first.splitlines()[0] == "Showing 2 of 3 results (page 1/2):"
    assert "tags: cat, pets" in first or "tags: pets" in first
    assert "relevance" in first and "id=p-" in first
    assert second.splitlines()[0] == "Showing 1 of 3 results (page 2/2):"
    assert tagged.splitlines()[0].startswith("Showing 1 of 1") and "Miso" in tagged
    assert dated.startswith("No archival passages match")


def test_long_content_is_chunked_in_one_batch_with_a_shared_source(tmp_path) -> None:
    store = make_store("sqlite-vec", tmp_path)
    document = " ".join(f"Sentence {i} of a long document about lighthouses." for i in range(400))
    results = run_calls(
        store, "ada", call("archival_memory_insert", content=document, request_heartbeat=True)
    )
    assert "passages" in results[0].content
    items = store.search(("archival", "ada"), limit=100)
    assert len(items) > 5
    assert len({i.value["source_id"] for i in items}) == 1
    assert sorted(i.value["chunk"] for i in items) == list(range(len(items)))


def test_bad_input_is_an_error_and_stores_nothing(tmp_path) -> None:
    store = make_store("sqlite-vec", tmp_path)
    results = run_calls(
        store,
        "ada",
        call("archival_memory_insert", content="   ", request_heartbeat=True),
        call("archival_memory_insert", content="x" * 200_001, request_heartbeat=True),
        call("archival_memory_search", query="x", tag_match="some", request_heartbeat=True),
        call("archival_memory_search", query="x", start_datetime="soon", request_heartbeat=True),
        call("archival_memory_search", query="  ", request_heartbeat=True),
    )
    assert [r.status for r in results] == ["error"] * 5
    assert "content is empty" in results[0].content
    assert "more than 200,000" in results[1].content
    assert "tag_match" in results[2].content
    assert "not an ISO date" in results[3].content
    assert store.count(("archival", "ada")) == 0


def test_users_never_see_each_others_passages(tmp_path) -> None:
    store = make_store("sqlite-vec", tmp_path)
    secret = "Ada's locker code is 7781 and she hides the key under the blue mat"
    run_calls(store, "ada", call("archival_memory_insert", content=secret, request_heartbeat=True))
    run_calls(
        store,
        "bob",
        call("archival_memory_insert", content="Bob collects stamps", request_heartbeat=True),
    )
    for query in (secret, "locker code 7781", "blue mat key"):
        found = run_calls(
            store,
            "bob",
            call("archival_memory_search", query=query, request_heartbeat=True),
            thread="t2",
        )
        assert "7781" not in found[0].content and "Ada" not in found[0].content


def test_archival_tools_are_offered_only_with_a_store(tmp_path) -> None:
    model = ScriptedChatModel(script=[reply("hi"), reply("hi")])
    build_graph(model, checkpointer=InMemorySaver()).invoke(
        {"messages": [("user", "x")]}, {"configurable": {"thread_id": "a"}}
    )
    names = {t["function"]["name"] for t in model.bound_tools}
    assert "archival_memory_insert" not in names
    assert "Archival memory: not configured" in memory_view(model.prompts[-1])
    store = make_store("sqlite-vec", tmp_path)
    build_graph(model, checkpointer=InMemorySaver(), store=store).invoke(
        {"messages": [("user", "x")]}, {"configurable": {"thread_id": "b"}}
    )
    names = {t["function"]["name"] for t in model.bound_tools}
    assert {"archival_memory_insert", "archival_memory_search"} <= names
    assert "Archival memory: 0 passages" in memory_view(model.prompts[-1])


def test_a_reexecuted_insert_step_stores_its_passages_once(tmp_path) -> None:
    """A tool step re-run after a crash repeats the same tool call id: same passages, no copy."""
    store = make_store("sqlite-vec", tmp_path)
    insert = call("archival_memory_insert", content="Ada's cat Miso loves tuna. " * 200)
    first = run_calls(store, "ada", insert)
    again = run_calls(store, "ada", insert)
    other = run_calls(store, "ada", call("archival_memory_insert", content="Rex hates tuna"))

    assert first[0].content == again[0].content and "passages" in first[0].content
    keys = [item.key for item in store.search(("archival", "ada"), limit=100)]
    stored = int(first[0].content.split(" as ")[1].split()[0])  # "... as 3 passages (...)"
    assert len(keys) == len(set(keys)) == stored + 1
    assert other[0].content.split()[-1].rstrip(".") in keys
