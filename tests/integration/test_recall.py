"""Recall memory: conversation_search over the checkpoints of the checkpointer that runs the
graph (SQLite sync and async, PostgreSQL), with the real embedding model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.checkpoints import open_async_sqlite_checkpointer, open_sqlite_checkpointer
from langgraph_memgpt.checkpoints.history import read_log
from langgraph_memgpt.memory.recall import (
    asearch_conversation,
    index_location,
    rebuild_recall_index,
    search_conversation,
)
from langgraph_memgpt.steps import drive
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn

pytestmark = pytest.mark.integration
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FACTS = [
    "My sister Alice moved to Lisbon to study architecture.",
    "We adopted a grey cat and named her Miso.",
    "I run the Berlin marathon every September.",
]
WINDOW = 3000


def summarizer() -> ScriptedChatModel:
    """Summaries come from their own model, so they never take the chat model's script."""
    return ScriptedChatModel(default=AIMessage(content="They chatted about everyday things."))


CONFIG = {"configurable": {"thread_id": "ada"}}


def chat(agent: Any, turns: int) -> None:
    """Facts first, then enough small talk to push them out of the context window."""
    for turn in range(turns):
        text = FACTS[turn] if turn < len(FACTS) else f"Small talk {turn}: nice weather again."
        stamp = f"2024-05-{1 + turn % 28:02d}T10:00:00+00:00" if turn < len(FACTS) else None
        message = {"role": "user", "content": text}
        if stamp:
            message = {"type": "human", "content": text, "additional_kwargs": {"timestamp": stamp}}
        agent.invoke(
            {"messages": [message]},
            CONFIG,
            context=Context(context_window=WINDOW),
            durability="exit",
        )


def queue_texts(agent: Any) -> str:
    return " ".join(str(m.content) for m in agent.get_state(CONFIG).values["messages"])


def test_search_finds_evicted_messages_with_filters_and_pages(tmp_path: Path) -> None:
    with open_sqlite_checkpointer(tmp_path / "c.sqlite") as saver:
        agent = build_graph(
            ScriptedChatModel(default=reply("Noted!")), checkpointer=saver, summarizer=summarizer()
        )
        chat(agent, 45)
        assert "Lisbon" not in queue_texts(agent), "the fact was evicted from the window"

        page = search_conversation(saver, "ada", "Where did my sister move?")
        assert page.hits[0].text == FACTS[0]
        assert page.hits[0].role == "user" and page.hits[0].timestamp.startswith("2024-05-01")

        # Role filter: assistant messages only, so the user's fact cannot appear.
        only_ai = search_conversation(saver, "ada", "sister Lisbon", roles=["assistant"])
        assert all(h.role == "assistant" for h in only_ai.hits)

        # Date filters: a bare end date includes that whole day.
        may_2 = search_conversation(
            saver, "ada", "cat", start_date="2024-05-02", end_date="2024-05-02"
        )
        assert [h.text for h in may_2.hits] == [FACTS[1]]
        listed = search_conversation(
            saver, "ada", "", start_date="2024-05-01", end_date="2024-05-03", limit=2
        )
        assert [h.text for h in listed.hits] == FACTS[:2]
        assert (listed.total, listed.pages) == (3, 2)
        second = search_conversation(
            saver, "ada", "", start_date="2024-05-01", end_date="2024-05-03", limit=2, page=1
        )
        assert [h.text for h in second.hits] == [FACTS[2]]

        with pytest.raises(ValueError, match="not an ISO date"):
            search_conversation(saver, "ada", "cat", start_date="last tuesday")

        # The index is derived data: delete it and it is rebuilt from the checkpoints.
        assert Path(index_location(f"sqlite:{tmp_path / 'c.sqlite'}")).exists()
        indexed = rebuild_recall_index(saver, "ada")
        assert indexed >= 90
        again = search_conversation(saver, "ada", "Where did my sister move?")
        assert [h.message_id for h in again.hits] == [h.message_id for h in page.hits]


def test_the_tool_inside_the_graph_formats_pages_and_never_echoes(tmp_path: Path) -> None:
    model = ScriptedChatModel(default=reply("Noted!"))
    with open_sqlite_checkpointer(tmp_path / "c.sqlite") as saver:
        agent = build_graph(model, checkpointer=saver, summarizer=summarizer())
        chat(agent, 40)
        # Search twice: the second must not find the first's result. The second question says
        # "marathon" itself, so only its exclusion as the asking turn keeps it out of the hits
        # (the first question is history and may rank).
        for question in ("Which race do I run?", "Remind me which marathon I run."):
            model.script = [
                tool_turn(
                    call("conversation_search", query="marathon", limit=4, request_heartbeat=True)
                ),
                reply("Found it."),
            ]
            state = agent.invoke(
                {"messages": [("user", question)]},
                CONFIG,
                context=Context(context_window=WINDOW),
            )
        result = [
            m
            for m in state["messages"]
            if isinstance(m, ToolMessage) and m.name == "conversation_search"
        ][-1]
        lines = result.content.splitlines()
        assert lines[0].startswith("Showing 4 of ") and "(page 1/" in lines[0]
        # Its neighbours carry the asking turn's words as context, so the fact need not rank
        # first among them; it must be on the page, dated and aged.
        fact_line = next(line for line in lines if FACTS[2] in line)
        assert "[user, 2024-05-03 10:00, " in fact_line and "ago]" in fact_line
        assert "Showing" not in "\n".join(lines[1:]), "earlier results are not results"
        assert "which marathon I run" not in result.content, "the asking turn is excluded"

        model.script = [
            tool_turn(
                call(
                    "conversation_search",
                    query="x",
                    start_date="yesterday-ish",
                    request_heartbeat=True,
                )
            ),
            reply("Sorry."),
        ]
        state = agent.invoke(
            {"messages": [("user", "search badly")]}, CONFIG, context=Context(context_window=WINDOW)
        )
        error = [m for m in state["messages"] if isinstance(m, ToolMessage)][-2]
        assert error.status == "error" and "not an ISO date" in error.content


async def test_async_sqlite_saver(tmp_path: Path) -> None:
    model = ScriptedChatModel(default=reply("Noted!"))
    async with open_async_sqlite_checkpointer(tmp_path / "a.sqlite") as saver:
        agent = build_graph(model, checkpointer=saver, summarizer=summarizer())
        for turn in range(35):
            text = FACTS[0] if turn == 0 else f"Small talk {turn}."
            await agent.ainvoke(
                {"messages": [("user", text)]}, CONFIG, context=Context(context_window=WINDOW)
            )
        page = await asearch_conversation(saver, "ada", "sister architecture")
        assert page.hits[0].text == FACTS[0]
        model.script = [
            tool_turn(call("conversation_search", query="Alice", request_heartbeat=True)),
            reply("In Lisbon."),
        ]
        state = await agent.ainvoke(
            {"messages": [("user", "Where is Alice?")]},
            CONFIG,
            context=Context(context_window=WINDOW),
        )
        found = [m for m in state["messages"] if isinstance(m, ToolMessage)][-2]
        assert FACTS[0] in found.content


def test_in_memory_saver_and_update_state_history() -> None:
    saver = InMemorySaver()
    agent = build_graph(
        ScriptedChatModel(default=reply("ok")), checkpointer=saver, summarizer=summarizer()
    )
    agent.update_state(
        CONFIG,
        {
            "messages": [
                {
                    "type": "human",
                    "content": FACTS[1],
                    "id": "m1",
                    "name": "Ada",
                    "additional_kwargs": {"timestamp": "2023-05-08T13:56:00"},
                },
                AIMessage(content="What a lovely name!", id="m2"),
            ]
        },
        as_node="execute_tools",
    )
    page = search_conversation(saver, "ada", "What is the cat called?")
    assert page.hits[0].message_id == "m1" and page.hits[0].name == "Ada"


@pytest.fixture(scope="module")
def postgres_url() -> Any:
    from pg_server import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture
def index_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Checkpointers other than SQLite keep their recall index at $MEMGPT_RECALL_INDEX."""
    path = tmp_path / "recall-index.sqlite"
    monkeypatch.setenv("MEMGPT_RECALL_INDEX", str(path))
    return path


def test_postgres_checkpointer(postgres_url: str, index_file: Path) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        model = ScriptedChatModel(default=reply("Noted!"))
        agent = build_graph(model, checkpointer=saver, summarizer=summarizer())
        chat(agent, 40)
        assert "Lisbon" not in queue_texts(agent)
        page = search_conversation(saver, "ada", "Where did my sister move?")
        assert page.hits[0].text == FACTS[0]
        assert index_file.exists()
        model.script = [
            tool_turn(call("conversation_search", query="cat name", request_heartbeat=True)),
            reply("Miso."),
        ]
        state = agent.invoke(
            {"messages": [("user", "My cat's name?")]},
            CONFIG,
            context=Context(context_window=WINDOW),
        )
        found = [m for m in state["messages"] if isinstance(m, ToolMessage)][-2]
        assert FACTS[1] in found.content


async def test_async_postgres_checkpointer(postgres_url: str, index_file: Path) -> None:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    async with AsyncPostgresSaver.from_conn_string(postgres_url) as saver:
        await saver.setup()
        agent = build_graph(
            ScriptedChatModel(default=reply("ok")), checkpointer=saver, summarizer=summarizer()
        )
        config = {"configurable": {"thread_id": "async-ada"}}
        for turn in range(30):
            text = FACTS[2] if turn == 0 else f"Small talk {turn}."
            await agent.ainvoke(
                {"messages": [("user", text)]}, config, context=Context(context_window=WINDOW)
            )
        page = await asearch_conversation(saver, "async-ada", "Which marathon do I run?")
        assert page.hits[0].text == FACTS[2]


def human_texts_in_log(saver: Any) -> list[str]:
    log = drive(read_log(saver, "ada", {}))
    return [str(m.content) for m in log.messages if m.type == "human"]


def said(turns: int) -> list[str]:
    return [*FACTS, *(f"Small talk {t}: nice weather again." for t in range(3, turns))]


def test_the_log_is_read_in_the_order_messages_were_said(tmp_path: Path) -> None:
    """Queue snapshots (every 50 updates) hold only the messages still in the window; a full
    read must still give the whole thread in order, or neighbour windows and sessions of the
    index would be wrong."""
    with open_sqlite_checkpointer(tmp_path / "c.sqlite") as saver:
        chat(build_graph(ScriptedChatModel(default=reply("Noted!")), checkpointer=saver), 40)
        assert human_texts_in_log(saver) == said(40)


def test_the_postgres_log_is_read_in_order(postgres_url: str, index_file: Path) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        saver.delete_thread("ada")  # the server is shared with the other Postgres tests
        model = ScriptedChatModel(default=reply("Noted!"))
        chat(build_graph(model, checkpointer=saver, summarizer=summarizer()), 40)
        assert human_texts_in_log(saver) == said(40)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_stale_writes_stay_out_of_recall_read_by_read(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A turn whose one checkpoint was never saved (``durability="exit"``, the process died)
    leaves writes no state contains; sent again, it shows once. The index reads the log a
    batch at a time, and a later read must not take the stale writes back in."""
    from contextlib import ExitStack

    from langgraph.checkpoint.postgres import PostgresSaver

    with ExitStack() as stack:
        if kind == "sqlite":
            saver = stack.enter_context(open_sqlite_checkpointer(tmp_path / "c.sqlite"))
        else:
            url = request.getfixturevalue("postgres_url")
            saver = stack.enter_context(PostgresSaver.from_conn_string(url))
            saver.setup()
            saver.delete_thread("ada")  # the server is shared with the other Postgres tests
        agent = build_graph(ScriptedChatModel(default=reply("Noted!")), checkpointer=saver)
        found: dict[str, Any] = {}
        cursor: dict[str, Any] = {}

        def say(text: str) -> None:
            nonlocal cursor
            try:
                agent.invoke({"messages": [("user", text)]}, CONFIG, durability="exit")
            finally:  # the index reads after every turn, failed or not
                batch = drive(read_log(saver, "ada", cursor))
                found.update({m.id: m for m in batch.messages})
                cursor = batch.cursor

        say("First turn.")
        original_put = saver.put
        saver.put = lambda *a, **k: (_ for _ in ()).throw(OSError("killed"))  # type: ignore
        with pytest.raises(OSError):
            say("Second turn.")
        saver.put = original_put  # type: ignore[method-assign]
        say("Second turn.")
        say("Third turn.")
        queue = agent.get_state(CONFIG).values["messages"]

    assert [m.content for m in found.values() if m.type == "human"] == [
        "First turn.",
        "Second turn.",
        "Third turn.",
    ]
    assert set(found) == {m.id for m in queue}


def test_messages_of_an_abandoned_branch_are_not_recalled(tmp_path: Path) -> None:
    """Regenerate/edit fork the thread (server/branches.py) and name what they leave behind."""
    model = ScriptedChatModel(default=reply("Noted!"))
    context = Context(context_window=WINDOW)
    with open_sqlite_checkpointer(tmp_path / "c.sqlite") as saver:
        agent = build_graph(model, checkpointer=saver, summarizer=summarizer())
        agent.invoke({"messages": [("user", FACTS[1])]}, CONFIG, context=context)
        before = agent.get_state(CONFIG).config
        agent.invoke({"messages": [("user", FACTS[0])]}, CONFIG, context=context)

        def search(query: str) -> str:
            model.script = [
                tool_turn(call("conversation_search", query=query, request_heartbeat=True)),
                reply("Found it."),
            ]
            state = agent.invoke(
                {"messages": [("user", f"What about {query}?")]}, CONFIG, context=context
            )
            found = [m for m in state["messages"] if isinstance(m, ToolMessage)]
            return next(m for m in reversed(found) if m.name == "conversation_search").content

        assert FACTS[0] in search("Lisbon")  # on the branch: found
        # An edit: the turns after `before` are replaced by another message.
        kept = {m.id for m in agent.get_state(before).values["messages"]}
        abandoned = [m.id for m in agent.get_state(CONFIG).values["messages"] if m.id not in kept]
        agent.invoke(
            {"messages": [("user", "My brother Bob lives in Porto.")], "forgotten_ids": abandoned},
            before,
            context=context,
        )
        assert "Lisbon" not in search("Lisbon").split("\n", 1)[1]
        assert "Bob lives in Porto" in search("Porto")
        assert FACTS[1] in search("cat")
