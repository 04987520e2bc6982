"""Export/import and status on in-memory savers and stores: round trip, refusals, rollback.

The same on real SQLite files, with the real embedding model and recall search, is in
tests/integration/test_export_import.py.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import AIMessage, HumanMessage, message_to_dict
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.memory.status import acollect_status, collect_status
from langgraph_memgpt.portability import (
    AgentFileError,
    ThreadNotEmptyError,
    ThreadNotFoundError,
    UnsupportedSchemaVersionError,
    aexport_agent,
    aimport_agent,
    dump_document,
    export_agent,
    import_agent,
    load_document,
    read_document,
    thread_has_memory,
)
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn

DIMS = 32
USER = "ada"
CONTEXT = Context(user_id=USER, context_window=8192)


def new_store() -> InMemoryStore:
    index = {"dims": DIMS, "embed": DeterministicFakeEmbedding(size=DIMS), "fields": ["content"]}
    return InMemoryStore(index=index)


def config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def converse(saver: InMemorySaver, store: InMemoryStore, thread: str = "t1") -> Any:
    """Two turns: the model saves a core memory fact and an archival passage, then replies."""
    script = [
        tool_turn(
            call("core_memory_append", label="human", content="Name: Ada", request_heartbeat=True)
        ),
        tool_turn(
            call(
                "archival_memory_insert",
                content="Ada's sister Alice lives in Lisbon.",
                tags=["family"],
                request_heartbeat=True,
            )
        ),
        reply("Nice to meet you, Ada!"),
        reply("Lisbon is lovely in spring."),
    ]
    agent = build_graph(ScriptedChatModel(script=script), checkpointer=saver, store=store)
    agent.invoke(
        {"messages": [HumanMessage("I'm Ada; my sister Alice lives in Lisbon.")]},
        config(thread),
        context=CONTEXT,
    )
    agent.invoke({"messages": [HumanMessage("Any tips?")]}, config(thread), context=CONTEXT)
    return agent


def dicts(messages: list[Any]) -> list[dict[str, Any]]:
    return [message_to_dict(m) for m in messages]


@pytest.fixture
def exported() -> tuple[dict[str, Any], dict[str, Any]]:
    """(document, the original thread's state values)."""
    saver, store = InMemorySaver(), new_store()
    agent = converse(saver, store)
    document = export_agent(
        checkpointer=saver, store=store, thread_id="t1", user_id=USER, context=CONTEXT
    )
    return document, agent.get_state(config("t1")).values


def test_round_trip_recreates_state_history_and_archive(exported, tmp_path) -> None:
    document, original = exported
    path = tmp_path / "ada.json"
    dump_document(document, path)
    assert not (tmp_path / "ada.json.partial").exists()

    saver, store = InMemorySaver(), new_store()
    result = import_agent(load_document(path), checkpointer=saver, store=store)

    assert (result.thread_id, result.user_id, result.replaced) == ("t1", USER, False)
    assert result.messages == len(document["history"]) > len(document["queue"]) - 1
    assert result.passages == 1
    agent = build_graph(checkpointer=saver, store=store)
    snapshot = agent.get_state(config("t1"))
    assert snapshot.next == ()  # idle, like a thread whose turn has finished
    values = snapshot.values
    assert values["blocks"] == original["blocks"]
    assert "Name: Ada" in values["blocks"]["human"]["value"]
    assert values.get("summary") == original.get("summary")
    assert values["budget"] == original["budget"]
    assert dicts(values["messages"]) == dicts(original["messages"])
    again = export_agent(
        checkpointer=saver, store=store, thread_id="t1", user_id=USER, context=CONTEXT
    )
    for key in ("history", "queue", "memory", "configuration", "thread_id", "user_id"):
        assert again[key] == document[key], key
    passages = [(p["id"], p["value"]) for p in again["archival"]["passages"]]
    assert passages == [(p["id"], p["value"]) for p in document["archival"]["passages"]]


def test_document_carries_messages_blocks_passages_and_configuration(exported) -> None:
    document, original = exported
    text = json.dumps(document)  # plain JSON, no objects
    assert json.loads(text) == document
    assert document["schema_version"] == 1
    assert document["configuration"]["context_window"] == 8192
    assert document["configuration"]["user_id"] == USER
    history = document["history"]
    assert [m["data"]["id"] for m in history][: len(original["messages"])] == [
        m.id for m in original["messages"]
    ]
    assert all(m["data"]["additional_kwargs"].get("timestamp") for m in history)
    calls = [c["name"] for m in history if m["type"] == "ai" for c in m["data"]["tool_calls"]]
    assert {"core_memory_append", "archival_memory_insert", "send_message"} <= set(calls)
    (passage,) = document["archival"]["passages"]
    assert passage["value"]["content"] == "Ada's sister Alice lives in Lisbon."
    assert passage["value"]["tags"] == ["family"]
    assert passage["created_at"] and passage["id"].startswith("p-")
    assert document["archival"]["embedding_model"]
    assert "embedding" not in json.dumps(passage)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unknown_schema_version_is_refused_and_nothing_is_written(exported, version) -> None:
    document, _ = exported
    document = {**document, "schema_version": version}
    saver, store = InMemorySaver(), new_store()

    with pytest.raises(UnsupportedSchemaVersionError, match="schema_version"):
        import_agent(document, checkpointer=saver, store=store)

    assert saver.get_tuple(config("t1")) is None
    assert store.search(("archival",)) == []


def break_block(doc: dict) -> None:
    doc["memory"]["blocks"]["human"]["value"] = "x" * 10_000


def drop_message_id(doc: dict) -> None:
    doc["history"][1]["data"]["id"] = None


def duplicate_message(doc: dict) -> None:
    doc["history"].append(doc["history"][0])


def drop_passage_content(doc: dict) -> None:
    del doc["archival"]["passages"][0]["value"]["content"]


def bad_configuration(doc: dict) -> None:
    doc["configuration"]["context_window"] = 10


def not_an_agent_file(doc: dict) -> None:
    doc["format"] = "letta-agent"


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (break_block, "memory.blocks.human"),
        (drop_message_id, "history[1]"),
        (duplicate_message, "appears twice"),
        (drop_passage_content, "archival.passages[0].value.content"),
        (bad_configuration, "context_window"),
        (not_an_agent_file, "format"),
    ],
)
def test_a_broken_document_is_refused_naming_the_problem(exported, damage, named) -> None:
    document = copy.deepcopy(exported[0])
    damage(document)
    saver, store = InMemorySaver(), new_store()

    with pytest.raises(AgentFileError, match=named.replace("[", r"\[").replace("]", r"\]")):
        import_agent(document, checkpointer=saver, store=store)

    assert saver.get_tuple(config("t1")) is None
    assert store.search(("archival",)) == []


def test_thread_with_memory_is_refused_unless_forced(exported) -> None:
    document, _ = exported
    saver, store = InMemorySaver(), new_store()
    converse(saver, store, thread="t1")
    before = build_graph(checkpointer=saver).get_state(config("t1")).values
    assert thread_has_memory(saver, "t1")

    with pytest.raises(ThreadNotEmptyError, match="t1"):
        import_agent(document, checkpointer=saver, store=store)

    after = build_graph(checkpointer=saver).get_state(config("t1")).values
    assert dicts(after["messages"]) == dicts(before["messages"])
    # Another thread id is free.
    result = import_agent(document, checkpointer=saver, store=store, thread_id="t2")
    assert result.thread_id == "t2"
    assert not thread_has_memory(saver, "t3")


def test_exporting_a_missing_thread_says_so() -> None:
    with pytest.raises(ThreadNotFoundError, match="nope"):
        export_agent(checkpointer=InMemorySaver(), store=None, thread_id="nope", user_id=USER)


def test_passages_without_a_store_are_refused(exported) -> None:
    saver = InMemorySaver()
    with pytest.raises(AgentFileError, match="no store"):
        import_agent(exported[0], checkpointer=saver, store=None)
    assert saver.get_tuple(config("t1")) is None


class FailingStore(InMemoryStore):
    """Fails the Nth batch that writes passages, as a full disk would."""

    def __init__(self, fail_on_write: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writes = 0
        self.fail_on_write = fail_on_write

    def batch(self, ops: Any) -> list[Any]:
        ops = list(ops)
        if any(getattr(op, "value", None) for op in ops):
            self.writes += 1
            if self.writes == self.fail_on_write:
                raise OSError("disk full")
        return super().batch(ops)


def test_a_failure_midway_leaves_nothing_half_written(exported) -> None:
    document = copy.deepcopy(exported[0])
    template = document["archival"]["passages"][0]
    document["archival"]["passages"] = [
        {**template, "id": f"p-{n:04d}", "value": {**template["value"], "content": f"fact {n}"}}
        for n in range(150)  # three store batches
    ]
    saver = InMemorySaver()
    store = FailingStore(fail_on_write=3, index=new_store().index_config)
    store.put(("archival", USER), "p-0001", {"content": "kept: written before the import"})
    store.writes = 0

    with pytest.raises(OSError, match="disk full"):
        import_agent(document, checkpointer=saver, store=store)

    assert saver.get_tuple(config("t1")) is None
    remaining = store.search(("archival", USER), limit=1000)
    assert [(i.key, i.value["content"]) for i in remaining] == [
        ("p-0001", "fact 1")  # an existing passage is upserted, not removed
    ]


def test_import_reports_progress_by_stage(exported) -> None:
    seen: list[tuple[str, int, int]] = []
    import_agent(
        exported[0],
        checkpointer=InMemorySaver(),
        store=new_store(),
        progress=lambda *event: seen.append(event),
    )
    total = len(exported[0]["history"])
    assert seen == [("history", total, total), ("archive", 1, 1)]


def test_async_export_and_import_match_sync(exported) -> None:
    document, original = exported

    async def run() -> tuple[Any, dict[str, Any]]:
        saver, store = InMemorySaver(), new_store()
        await aimport_agent(document, checkpointer=saver, store=store, thread_id="a1")
        again = await aexport_agent(
            checkpointer=saver, store=store, thread_id="a1", user_id=USER, context=CONTEXT
        )
        return await build_graph(checkpointer=saver).aget_state(config("a1")), again

    snapshot, again = asyncio.run(run())
    assert dicts(snapshot.values["messages"]) == dicts(original["messages"])
    assert snapshot.values["blocks"] == original["blocks"]
    assert again["history"] == document["history"]


def test_status_counts_recall_and_archival_memory() -> None:
    saver, store = InMemorySaver(), new_store()
    agent = converse(saver, store)
    state = agent.get_state(config("t1")).values

    status = collect_status(
        checkpointer=saver, store=store, thread_id="t1", user_id=USER, context=CONTEXT
    )

    assert status["model"] == CONTEXT.model
    assert status["context_window"] == 8192
    assert status["budget"] == dict(state["budget"])
    assert status["recall_messages"] == len(state["messages"])
    assert status["archival_passages"] == 1
    assert status["storage"] == {"checkpoints": None, "archive": None, "recall_index": None}
    assert json.loads(json.dumps(status)) == status
    other = collect_status(
        checkpointer=saver, store=store, thread_id="t1", user_id="bob", context=CONTEXT
    )
    assert other["archival_passages"] == 0 and other["user_id"] == "bob"
    assert (
        asyncio.run(
            acollect_status(
                checkpointer=saver, store=store, thread_id="t1", user_id=USER, context=CONTEXT
            )
        )
        == status
    )


def test_status_of_a_new_thread_and_without_storage() -> None:
    status = collect_status(
        checkpointer=InMemorySaver(), store=None, thread_id="new", user_id=USER, context=CONTEXT
    )
    assert status["budget"] is None
    assert status["recall_messages"] == 0
    assert status["archival_passages"] is None
    nothing = collect_status(
        checkpointer=None, store=None, thread_id=None, user_id=USER, context=CONTEXT
    )
    assert nothing["recall_messages"] == 0 and nothing["budget"] is None


def test_a_queue_copy_that_differs_from_the_history_is_kept_exactly() -> None:
    # The queue may hold a cut copy of an oversized message (same id); the history the
    # original. Both survive the round trip.
    saver = InMemorySaver()
    agent = build_graph(checkpointer=saver)
    long_text = "word " * 400
    original = HumanMessage(long_text, id="m1", additional_kwargs={"timestamp": "2024-05-01"})
    agent.update_state(config("q"), {"messages": [original]}, as_node="execute_tools")
    cut = HumanMessage("word [cut]", id="m1", additional_kwargs={"timestamp": "2024-05-01"})
    answer = AIMessage("ok", id="m2", additional_kwargs={"timestamp": "2024-05-01"})
    agent.update_state(config("q"), {"messages": [cut, answer]}, as_node="execute_tools")
    document = export_agent(checkpointer=saver, store=None, thread_id="q", user_id=USER)
    assert document["history"][0]["data"]["content"] == long_text
    assert document["queue"][0]["data"]["content"] == "word [cut]"

    target = InMemorySaver()
    import_agent(document, checkpointer=target, store=None)

    values = build_graph(checkpointer=target).get_state(config("q")).values
    assert dicts(values["messages"]) == document["queue"]
    again = export_agent(checkpointer=target, store=None, thread_id="q", user_id=USER)
    assert again["history"] == document["history"]


def test_a_parsed_file_can_be_imported_for_another_user_and_thread(exported) -> None:
    agent_file = read_document(exported[0])
    saver, store = InMemorySaver(), new_store()

    result = import_agent(
        agent_file, checkpointer=saver, store=store, thread_id="t9", user_id="bob"
    )

    assert (result.thread_id, result.user_id, result.context.user_id) == ("t9", "bob", "bob")
    assert [i.key for i in store.search(("archival", "bob"))] == [
        p["id"] for p in exported[0]["archival"]["passages"]
    ]
    assert store.search(("archival", USER)) == []
    assert thread_has_memory(saver, "t9") and not thread_has_memory(saver, "t1")
