"""MemGPTAgent (``agent_api.py``): Seed 001's entry points on a scripted model.

In-memory persistence (InMemorySaver, an InMemoryStore with the packaged MiniLM embeddings)
except for the last test, which lets the agent open its default files (SQLite checkpoints, the
sqlite-vec archive) in a temp folder. Each test uses its own user ids: the recall index of an
in-memory saver lives as long as the process.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph_memgpt import Context, MemGPTAgent
from langgraph_memgpt.agent_api import MemoryHit, rank_together, user_thread
from langgraph_memgpt.archival import default_index_config
from langgraph_memgpt.memory import BlockEditError
from langgraph_memgpt.portability import load_document, read_document
from langgraph_memgpt.testing import ScriptedChatModel, call, reply, tool_turn

CONTEXT = Context(context_window=8192)


@pytest.fixture(scope="module")
def index_config() -> dict[str, Any]:
    return dict(default_index_config())  # loads MiniLM once for the module


def new_agent(index_config: dict[str, Any], *script: Any) -> MemGPTAgent:
    model = ScriptedChatModel(script=list(script), default=reply("Noted."))
    return MemGPTAgent(
        model,
        checkpointer=InMemorySaver(),
        store=InMemoryStore(index=index_config),
        context=CONTEXT,
    )


def said(agent: MemGPTAgent, thread: str) -> list[str]:
    state = agent.graph.get_state({"configurable": {"thread_id": thread}}).values
    return [m.content for m in state.get("messages") or [] if isinstance(m, HumanMessage)]


def test_chat_replies_and_keeps_each_users_conversation(index_config) -> None:
    agent = new_agent(index_config, reply("Hello Ada!"), reply("Hello Bob!"))

    assert agent.chat("Hi, I'm Ada", user_id="chat-ada") == "Hello Ada!"
    assert agent.chat("Hi, I'm Bob", user_id="chat-bob") == "Hello Bob!"
    assert agent.chat("Still Ada here", user_id="chat-ada") == "Noted."

    assert user_thread("chat-ada") == "chat-ada"
    assert said(agent, "chat-ada") == ["Hi, I'm Ada", "Still Ada here"]
    assert said(agent, "chat-bob") == ["Hi, I'm Bob"]
    # A second object on the same persistence continues the same conversations.
    again = MemGPTAgent(
        agent.model, checkpointer=agent.checkpointer, store=agent.store, context=CONTEXT
    )
    again.chat("Back again", user_id="chat-ada")
    assert said(again, "chat-ada")[-1] == "Back again"
    # A named thread is its own conversation, the user's archive stays theirs.
    agent.chat("A side topic", user_id="chat-ada", thread_id="chat-ada-side")
    assert said(agent, "chat-ada-side") == ["A side topic"]
    with pytest.raises(ValueError, match="empty"):
        agent.chat("  ", user_id="chat-ada")


def test_a_turn_with_several_agent_messages_joins_them(index_config) -> None:
    agent = new_agent(
        index_config,
        tool_turn(
            call("send_message", message="First."),
            call("core_memory_append", label="human", content="Busy", request_heartbeat=True),
        ),
        reply("Second."),
    )
    assert agent.chat("Talk to me", user_id="chat-two") == "First.\n\nSecond."


def test_users_are_isolated_in_search_memory(index_config) -> None:
    agent = new_agent(index_config)
    agent.chat("I drink Earl Grey tea every morning.", user_id="iso-ada")
    agent.add_memory("Ada's favourite tea is Earl Grey, no sugar.", user_id="iso-ada")
    agent.chat("I only drink coffee.", user_id="iso-bob")

    ada = agent.search_memory("Earl Grey tea", user_id="iso-ada")
    bob = agent.search_memory("Earl Grey tea", user_id="iso-bob")

    assert {hit.source for hit in ada} == {"recall", "archival"}
    assert not any("Earl Grey" in hit.text for hit in bob), bob
    assert [hit.text for hit in bob if hit.source == "archival"] == []


def test_add_memory_archival_and_core(index_config) -> None:
    agent = new_agent(index_config)
    user = "add-ada"

    archival = agent.add_memory(
        "Ada's sister Alice lives in Lisbon.", user_id=user, tags=["Family"]
    )
    (item,) = agent.store.search(("archival", user))
    assert archival.memory_type == "archival" and archival.ids == (item.key,)
    assert item.value["content"] == "Ada's sister Alice lives in Lisbon."
    assert item.value["tags"] == ["family"]

    # Core on a thread without a turn yet: the block it will start with, plus the text.
    core = agent.add_memory("Prefers short answers.", "core", user_id=user)
    config = {"configurable": {"thread_id": user}}
    human = agent.graph.get_state(config).values["blocks"]["human"]
    assert core.thread_id == user and core.label == "human"
    assert human["value"] == core.value == f"{CONTEXT.human}\nPrefers short answers."
    agent.chat("Hello", user_id=user)  # the next turn sees it and keeps it
    prompt = agent.model.prompts[-1]
    assert any("Prefers short answers." in str(m.content) for m in prompt)
    blocks = agent.graph.get_state(config).values["blocks"]
    assert blocks["human"]["value"] == core.value and "persona" in blocks

    checkpoints = len(list(agent.checkpointer.list(config)))
    with pytest.raises(BlockEditError, match="over its limit") as refused:
        agent.add_memory("x" * CONTEXT.block_char_limit, "core", user_id=user)
    assert refused.value.problem == "over_limit"
    with pytest.raises(BlockEditError, match="no memory block 'pets'"):
        agent.add_memory("Cat: Miso", "core", user_id=user, label="pets")
    with pytest.raises(ValueError, match="conversation itself"):
        agent.add_memory("Something", "recall", user_id=user)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tags are for archival"):
        agent.add_memory("Something", "core", user_id=user, tags=["x"])
    with pytest.raises(ValueError, match="empty"):
        agent.add_memory("   ", user_id=user)
    assert len(list(agent.checkpointer.list(config))) == checkpoints
    assert agent.graph.get_state(config).values["blocks"] == blocks
    assert len(agent.store.search(("archival", user))) == 1


def test_search_memory_ranks_both_sources_and_labels_them(index_config) -> None:
    agent = new_agent(index_config)
    user = "rank-ada"
    agent.chat("My sister Alice moved to Lisbon last spring.", user_id=user)
    agent.chat("I am learning to play the cello.", user_id=user)
    agent.add_memory("Alice's flat in Lisbon looks over the river.", user_id=user)
    agent.add_memory("The cello teacher is called Maria.", user_id=user)

    hits = agent.search_memory("Alice Lisbon", user_id=user, limit=4)

    assert len(hits) == 4
    assert [hit.relevance for hit in hits] == sorted((h.relevance for h in hits), reverse=True)
    best = {hit.source: hit for hit in reversed(hits)}  # the first hit of each source
    assert best["recall"].text == "My sister Alice moved to Lisbon last spring."
    assert best["recall"].role == "user" and best["recall"].time
    assert best["archival"].text == "Alice's flat in Lisbon looks over the river."
    assert best["archival"].id.startswith("p-") and best["archival"].time
    assert hits[0].source == "recall" and hits[1].source == "archival"  # a tie: recall first
    assert all(hit.role in {"user", "assistant"} for hit in hits if hit.source == "recall")
    assert len(agent.search_memory("Alice Lisbon", user_id=user, limit=1)) == 1
    with pytest.raises(ValueError, match="empty"):
        agent.search_memory(" ", user_id=user)


def test_rank_together_orders_by_fused_relevance_and_alternates_ties() -> None:
    def hit(source: str, name: str, relevance: float) -> MemoryHit:
        return MemoryHit(source=source, id=name, text=name, time=None, relevance=relevance)

    recall = [hit("recall", "r1", 0.5), hit("recall", "r2", 0.46)]
    archival = [hit("archival", "a1", 1.0), hit("archival", "a2", 0.5)]

    assert [h.id for h in rank_together(recall, archival)] == ["a1", "r1", "a2", "r2"]


def test_save_conversation_writes_an_agent_file(index_config, tmp_path) -> None:
    agent = new_agent(index_config, reply("Nice to meet you, Ada!"))
    agent.chat("Hi, I'm Ada", user_id="save-ada")
    agent.add_memory("Ada likes tea.", user_id="save-ada")

    path = agent.save_conversation(tmp_path / "ada.json", user_id="save-ada")

    document = read_document(load_document(path))
    assert (document.thread_id, document.user_id) == ("save-ada", "save-ada")
    texts = [m.content for m in document.history]
    assert "Hi, I'm Ada" in texts
    assert [p["value"]["content"] for p in document.passages] == ["Ada likes tea."]


def test_block_history_created_agent_edit_outside_edit(index_config) -> None:
    agent = new_agent(
        index_config,
        tool_turn(
            call("core_memory_append", label="human", content="Name: Ada", request_heartbeat=True)
        ),
        reply("Nice to meet you, Ada!"),
    )
    user = "history-ada"
    agent.chat("Hi, I'm Ada", user_id=user)
    agent.add_memory("Likes tea.", "core", user_id=user)

    versions = agent.block_history("human", user_id=user)

    assert [v.kind for v in versions] == ["created", "agent", "update"]
    assert [v.value for v in versions] == [
        CONTEXT.human,
        f"{CONTEXT.human}\nName: Ada",
        f"{CONTEXT.human}\nName: Ada\nLikes tea.",
    ]
    assert versions[0].edit == "created"
    assert versions[1].edit == 'core_memory_append("Name: Ada")'
    assert versions[1].calls[0]["name"] == "core_memory_append"
    assert versions[2].edit == "add_memory: appended to 'human'"
    assert [v.time for v in versions] == sorted(v.time for v in versions)
    assert agent.block_history("pets", user_id=user) == []


async def test_the_async_twins(index_config, tmp_path) -> None:
    agent = new_agent(
        index_config,
        tool_turn(
            call("core_memory_append", label="human", content="Name: Ada", request_heartbeat=True)
        ),
        reply("Hi Ada!"),
    )
    user = "async-ada"

    assert await agent.achat("Hi, I'm Ada and my cat is Miso.", user_id=user) == "Hi Ada!"
    added = await agent.aadd_memory("Miso the cat eats tuna.", user_id=user)
    core = await agent.aadd_memory("Likes cats.", "core", user_id=user)
    hits = await agent.asearch_memory("cat Miso", user_id=user)
    path = await agent.asave_conversation(tmp_path / "ada.json", user_id=user)
    versions = await agent.ablock_history("human", user_id=user)

    assert added.ids and core.value.endswith("Name: Ada\nLikes cats.")
    assert {hit.source for hit in hits} == {"recall", "archival"}
    assert read_document(load_document(path)).user_id == user
    assert [v.kind for v in versions] == ["created", "agent", "update"]
    # The sync methods see what the async ones wrote.
    assert agent.block_history("human", user_id=user) == versions


def test_the_default_files_are_opened_at_first_use_and_closed(tmp_path) -> None:
    db, archive = tmp_path / "checkpoints.sqlite", tmp_path / "archive.sqlite"
    model = ScriptedChatModel(default=reply("Noted."))
    with MemGPTAgent(model, db_path=db, archive_path=archive, context=CONTEXT) as agent:
        assert not db.exists()  # nothing is opened before it is needed
        agent.chat("I keep bees in the garden.", user_id="files-eve")
        agent.add_memory("Eve's hives are by the apple trees.", user_id="files-eve")
        # The default saver is sync-only: the async twins run in a worker thread.
        assert asyncio.run(agent.achat("Honey soon.", user_id="files-eve")) == "Noted."
    assert db.exists() and archive.exists()

    with MemGPTAgent(model, db_path=db, archive_path=archive, context=CONTEXT) as again:
        hits = again.search_memory("bees hives", user_id="files-eve")
        assert said(again, "files-eve") == ["I keep bees in the garden.", "Honey soon."]
    assert {hit.source for hit in hits} == {"recall", "archival"}
    with pytest.raises(ValueError, match="not both"):
        MemGPTAgent(model, db_path=db, checkpointer=InMemorySaver())
