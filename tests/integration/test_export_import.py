"""Export an agent from real SQLite files, import it into new ones: the same memory answers.

The original is a conversation long enough to evict (so the history holds messages the queue
no longer has) with archival passages, on the package's SQLite checkpointer and sqlite-vec
archive with the real embedding model. After export -> JSON file -> import into fresh files,
the two agents must hold the same blocks, summary and queue, return the same
conversation_search and archival_memory_search results, and send the model the same prompt
for the next message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, message_to_dict
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.archival import SqliteVecStore, open_archive
from langgraph_memgpt.checkpoints import open_async_sqlite_checkpointer, open_sqlite_checkpointer
from langgraph_memgpt.graph.prompts import SUMMARY_PREFIX, SYSTEM_NOTE_PREFIX
from langgraph_memgpt.memory.recall import asearch_conversation, search_conversation
from langgraph_memgpt.memory.status import acollect_status, collect_status
from langgraph_memgpt.portability import (
    ThreadNotEmptyError,
    aexport_agent,
    aimport_agent,
    dump_document,
    export_agent,
    import_agent,
    load_document,
)
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn
from langgraph_memgpt.tools.archival import SearchArgs, archival_memory_search
from langgraph_memgpt.tools.base import ToolContext

pytestmark = pytest.mark.integration

USER = "ada"
THREAD = "ada-1"
CONTEXT = Context(user_id=USER, context_window=3600)
START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
TOPICS = [
    "My sister Alice moved to Lisbon to study architecture.",
    "I adopted a grey cat called Miso from the shelter.",
    "Work is busy: I am restoring stained glass windows for a church.",
    "My favourite tea is genmaicha, the one with roasted rice.",
    "We are planning a hiking trip to the Picos de Europa in August.",
    "My brother Tom just started learning the cello.",
]
RECALL_QUERIES = [
    ("sister Lisbon", {}),
    ("what pet did I adopt", {}),
    ("cello", {"roles": ["user"]}),
    ("hiking trip", {"start_date": "2024-05-02", "end_date": "2024-05-06"}),
    ("", {"start_date": "2024-05-01", "end_date": "2024-05-01"}),
    ("tea", {"limit": 3, "page": 1}),
]
ARCHIVAL_QUERIES = [
    SearchArgs(query="where does Alice live"),
    SearchArgs(query="pets", tags=["animals"]),
    SearchArgs(query="music", start_datetime="2000-01-01", end_datetime="2000-01-02"),
    SearchArgs(query="family", page=1),
]


def is_summarizer_call(messages: list[BaseMessage]) -> bool:
    return "running summary" in str(messages[0].content)


def answer(messages: list[BaseMessage]) -> AIMessage:
    """Summaries keep the first words of each line; 'remember' goes to archival memory."""
    if is_summarizer_call(messages):
        lines = str(messages[-1].content).splitlines()
        return AIMessage(content=" | ".join(line[:30] for line in lines if line.strip())[:500])
    turn_start = max(
        i
        for i, m in enumerate(messages)
        if isinstance(m, HumanMessage)
        and not str(m.content).startswith((SYSTEM_NOTE_PREFIX, SUMMARY_PREFIX))
    )
    said = str(messages[turn_start].content)
    answered = any(m.type == "tool" for m in messages[turn_start:])
    if "Please remember" in said and not answered:
        tags = ["animals"] if "cat" in said else ["family"]
        content = said.split("Please remember:", 1)[-1].strip()
        insert = call("archival_memory_insert", content=content, tags=tags, request_heartbeat=True)
        return tool_turn(insert)
    return reply("Thanks for telling me. " + "I will keep that in mind. " * 3)


def user_message(turn: int) -> HumanMessage:
    topic = TOPICS[turn % len(TOPICS)]
    text = f"Please remember: {topic}" if turn % 4 == 0 else f"{topic} " + "Also, " * 10
    when = (START + timedelta(hours=9 * turn)).isoformat(timespec="seconds")
    return HumanMessage(content=text, additional_kwargs={"timestamp": when})


@dataclass
class Agent:
    saver: Any
    store: SqliteVecStore
    db: Path
    archive: Path

    def graph(self, model: ScriptedChatModel | None = None) -> Any:
        return build_graph(model, checkpointer=self.saver, store=self.store)

    def values(self, thread: str = THREAD) -> dict[str, Any]:
        return self.graph().get_state({"configurable": {"thread_id": thread}}).values


@pytest.fixture
def original(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    folder = tmp_path_factory.mktemp("original")
    db, archive = folder / "checkpoints.sqlite", folder / "archive.sqlite"
    store = open_archive(archive)
    with open_sqlite_checkpointer(db) as saver:
        agent = Agent(saver, store, db, archive)
        graph = agent.graph(ScriptedChatModel(default=answer))
        for turn in range(24):
            graph.invoke(
                {"messages": [user_message(turn)]},
                {"configurable": {"thread_id": THREAD}},
                context=CONTEXT,
            )
        yield agent
    store.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Agent]:
    db, archive = tmp_path / "imported.sqlite", tmp_path / "imported-archive.sqlite"
    store = open_archive(archive)
    with open_sqlite_checkpointer(db) as saver:
        yield Agent(saver, store, db, archive)
    store.close()


def dicts(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    return [message_to_dict(m) for m in messages]


def recall_results(saver: Any, thread: str) -> list[list[tuple]]:
    pages = [
        search_conversation(saver, thread, query, **options) for query, options in RECALL_QUERIES
    ]
    return [
        [(h.message_id, h.role, h.name, h.timestamp, h.text, round(h.score, 9)) for h in p.hits]
        + [("total", p.total, p.pages)]
        for p in pages
    ]


def archival_results(store: SqliteVecStore, thread: str) -> list[str]:
    tool_context = ToolContext(
        blocks={},
        context=CONTEXT,
        store=store,
        config={"configurable": {"thread_id": thread}},
        state={},
    )
    return [archival_memory_search(args, tool_context).text for args in ARCHIVAL_QUERIES]


def test_imported_agent_answers_from_the_same_memory(
    original: Agent, fresh: Agent, tmp_path: Path
) -> None:
    before = original.values()
    assert before["summary"] is not None, "the conversation evicted"
    document = export_agent(
        checkpointer=original.saver,
        store=original.store,
        thread_id=THREAD,
        user_id=USER,
        context=CONTEXT,
    )
    evicted = {m["data"]["id"] for m in document["history"]} - {m.id for m in before["messages"]}
    assert evicted, "the history holds messages the queue no longer has"
    assert len(document["archival"]["passages"]) == 6
    path = tmp_path / "agent.json"
    dump_document(document, path)

    result = import_agent(load_document(path), checkpointer=fresh.saver, store=fresh.store)

    assert (result.messages, result.passages) == (len(document["history"]), 6)
    after = fresh.values()
    assert after["blocks"] == before["blocks"]
    assert after["summary"] == before["summary"]
    assert dicts(after["messages"]) == dicts(before["messages"])
    assert after["budget"] == before["budget"]

    # Recall: the same ranked hits (evicted messages included) for every kind of query.
    recall_before = recall_results(original.saver, THREAD)
    assert recall_results(fresh.saver, THREAD) == recall_before
    found = {hit[0] for page in recall_before for hit in page[:-1]}
    assert found & evicted, "the searches reach evicted messages"
    assert all(len(page) > 1 for page in recall_before[:5]), recall_before

    # Archival: the same passages, tags, dates and ranking (the tool's own output).
    archival_before = archival_results(original.store, THREAD)
    assert archival_results(fresh.store, THREAD) == archival_before
    assert "Lisbon" in archival_before[0]
    assert "No archival passages match" in archival_before[2]

    # Status: same counts and budget, the new files' locations.
    status = {
        name: collect_status(
            checkpointer=agent.saver,
            store=agent.store,
            thread_id=THREAD,
            user_id=USER,
            context=CONTEXT,
        )
        for name, agent in (("original", original), ("imported", fresh))
    }
    for key in ("budget", "recall_messages", "archival_passages", "model", "context_window"):
        assert status["imported"][key] == status["original"][key], key
    assert status["imported"]["storage"]["checkpoints"] == str(fresh.db)
    assert status["imported"]["storage"]["archive"] == str(fresh.archive)

    # Re-exporting the import gives the same document.
    again = export_agent(
        checkpointer=fresh.saver, store=fresh.store, thread_id=THREAD, user_id=USER, context=CONTEXT
    )
    for key in ("history", "queue", "memory", "archival", "configuration"):
        assert again[key] == document[key], key

    # The next message: both agents send the model exactly the same prompt.
    next_message = HumanMessage(
        "Where does my sister live?",
        id="next-question",
        additional_kwargs={"timestamp": "2024-06-01T10:00:00+00:00"},
    )
    prompts = []
    for agent in (original, fresh):
        model = ScriptedChatModel(script=[reply("In Lisbon.")])
        state = agent.graph(model).invoke(
            {"messages": [next_message.model_copy()]},
            {"configurable": {"thread_id": THREAD}},
            context=CONTEXT,
        )
        assert "In Lisbon." in str(state["messages"][-2].tool_calls)
        prompts.append([dicts(prompt) for prompt in model.prompts])
    assert prompts[0] == prompts[1]


def test_async_export_and_import_give_the_same_memory(original: Agent, tmp_path: Path) -> None:
    async def run() -> tuple[dict, dict, list, list, dict, dict]:
        async with open_async_sqlite_checkpointer(original.db) as source:
            document = await aexport_agent(
                checkpointer=source,
                store=original.store,
                thread_id=THREAD,
                user_id=USER,
                context=CONTEXT,
            )
            hits_before = await asearch_conversation(source, THREAD, "sister Lisbon")
            status_before = await acollect_status(
                checkpointer=source,
                store=original.store,
                thread_id=THREAD,
                user_id=USER,
                context=CONTEXT,
            )
        store = open_archive(tmp_path / "async-archive.sqlite")
        try:
            async with open_async_sqlite_checkpointer(tmp_path / "async.sqlite") as target:
                await aimport_agent(document, checkpointer=target, store=store, thread_id="copy")
                again = await aexport_agent(
                    checkpointer=target,
                    store=store,
                    thread_id="copy",
                    user_id=USER,
                    context=CONTEXT,
                )
                hits_after = await asearch_conversation(target, "copy", "sister Lisbon")
                status_after = await acollect_status(
                    checkpointer=target,
                    store=store,
                    thread_id="copy",
                    user_id=USER,
                    context=CONTEXT,
                )
        finally:
            store.close()
        return document, again, hits_before.hits, hits_after.hits, status_before, status_after

    document, again, hits_before, hits_after, status_before, status_after = asyncio.run(run())

    for key in ("history", "queue", "memory", "archival"):
        assert again[key] == document[key], key
    assert [(h.message_id, h.text) for h in hits_after] == [
        (h.message_id, h.text) for h in hits_before
    ]
    assert hits_before
    for key in ("budget", "recall_messages", "archival_passages"):
        assert status_after[key] == status_before[key], key


def test_forced_import_replaces_a_thread_and_its_recall_index(
    original: Agent, fresh: Agent
) -> None:
    document = export_agent(
        checkpointer=original.saver,
        store=original.store,
        thread_id=THREAD,
        user_id=USER,
        context=CONTEXT,
    )
    # The target thread already has a conversation of its own, searched once (so indexed).
    other = fresh.graph(ScriptedChatModel(default=reply("Noted.")))
    other.invoke(
        {"messages": [HumanMessage("I collect antique zeppelin postcards.")]},
        {"configurable": {"thread_id": THREAD}},
        context=CONTEXT,
    )
    assert search_conversation(fresh.saver, THREAD, "zeppelin postcards").total > 0
    kept = fresh.values()

    with pytest.raises(ThreadNotEmptyError):
        import_agent(document, checkpointer=fresh.saver, store=fresh.store)
    assert dicts(fresh.values()["messages"]) == dicts(kept["messages"])

    result = import_agent(document, checkpointer=fresh.saver, store=fresh.store, force=True)

    assert result.replaced
    assert dicts(fresh.values()["messages"]) == document["queue"]
    hits = search_conversation(fresh.saver, THREAD, "zeppelin postcards").hits
    assert all("zeppelin" not in h.text for h in hits), "the replaced thread is not searchable"
    before = search_conversation(original.saver, THREAD, "sister Lisbon")
    after = search_conversation(fresh.saver, THREAD, "sister Lisbon")
    assert [(h.message_id, h.score) for h in after.hits] == [
        (h.message_id, h.score) for h in before.hits
    ]
