"""The recall index kept current turn by turn equals one rebuilt from the whole history,
messages a search leaves out never crowd out the ones it finds, and it stores only what a
search can return.

Its vectors are stored compactly (int8, and a settled message's own vector is dropped), so an
edit that reaches back to a settled message must embed it again; the first test checks the
incremental path against a from-scratch build, including such an edit.
"""

from __future__ import annotations

import numpy as np
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph_memgpt.embeddings import EmbeddingModel
from langgraph_memgpt.graph.prompts import render_block_update
from langgraph_memgpt.search.quantize import unpack_scaled_int8 as _unpack_search_vectors
from langgraph_memgpt.search.recall_index import CANDIDATES, RecallIndex
from langgraph_memgpt.search.text import STOPWORDS
from langgraph_memgpt.testing import call, tool_turn


class UnitHashEmbeddings(Embeddings):
    """Deterministic unit vectors, as sentence-transformers' normalized embeddings are."""

    def __init__(self) -> None:
        self.inner = DeterministicFakeEmbedding(size=64)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        vector = np.asarray(self.inner.embed_query(text))
        return (vector / np.linalg.norm(vector)).tolist()


def _index(path) -> RecallIndex:
    return RecallIndex(path, EmbeddingModel("unit-hash", 64, UnitHashEmbeddings()))


def _vectors(index: RecallIndex, tid: int) -> dict[str, np.ndarray]:
    rows = index.conn.execute(
        "SELECT message_id, vec FROM entries WHERE tid = ? AND vec IS NOT NULL", (tid,)
    ).fetchall()
    return dict(
        zip([r[0] for r in rows], _unpack_search_vectors([r[1] for r in rows]), strict=True)
    )


def _conversation(n: int) -> list[BaseMessage]:
    kinds = (HumanMessage, AIMessage)
    return [
        kinds[i % 2](content=f"message {i} about topic {i * 7 % 5}", id=f"m{i}") for i in range(n)
    ]


def test_incremental_index_matches_a_rebuild_even_after_a_late_edit(tmp_path) -> None:
    messages = _conversation(9)
    longer = HumanMessage(content=messages[2].content + " and a later addition", id="m2")

    live = _index(tmp_path / "live.sqlite")
    tid, _ = live.thread("t")
    for start in range(0, 9, 2):  # two messages a turn, as a conversation grows
        live.add(tid, messages[start : start + 2], {})
    settled = live.conn.execute(
        "SELECT count(*) FROM entries WHERE tid = ? AND self_vec IS NULL", (tid,)
    ).fetchone()[0]
    assert settled == 7, "all but the last two messages have their final windows"
    live.add(tid, [longer], {})  # m2 changes: its settled neighbours m0, m1, m3, m4 too

    rebuilt = _index(tmp_path / "rebuilt.sqlite")
    rebuilt_tid, _ = rebuilt.thread("t")
    rebuilt.add(rebuilt_tid, [*messages[:2], longer, *messages[3:]], {})

    expected, actual = _vectors(rebuilt, rebuilt_tid), _vectors(live, tid)
    assert expected.keys() == actual.keys() == {m.id for m in messages}
    for message_id, vector in expected.items():
        assert np.allclose(actual[message_id], vector, atol=0.02), message_id
    texts = [hit.text for hit in live.search(tid, "later addition", limit=9).hits]
    assert longer.content in texts and messages[2].content not in texts


def test_excluded_messages_do_not_take_the_candidates_places(tmp_path) -> None:
    """Rows left out of a search (the window, abandoned branches) are often its best matches:
    the same question asked on other branches, say. More of them than a ranking's depth must
    still leave the real answer found."""
    query = "Where did Alice move to study architecture?"
    answer = HumanMessage(content="My sister Alice moved to Lisbon to study architecture.", id="a")
    asked_elsewhere = [HumanMessage(content=query, id=f"q{i}") for i in range(3 * CANDIDATES)]
    index = _index(tmp_path / "recall.sqlite")
    tid, _ = index.thread("t")
    index.add(tid, [answer, *asked_elsewhere], {})

    page = index.search(tid, query, limit=5, exclude_ids=[m.id for m in asked_elsewhere])
    assert [hit.message_id for hit in page.hits] == ["a"]


def test_the_index_keeps_what_a_search_can_return_and_nothing_else(tmp_path) -> None:
    """A turn with a core-memory edit: the edit's result echoes the whole block (it is in the
    prompt already), the model's tool-call turn is empty and send_message's result is a bare
    acknowledgement. Only what a search can return gets a row, only words a query can hold
    get postings, and a message first seen empty is indexed once it has text."""
    block = {
        "value": "Caroline likes pottery.",
        "description": "the user",
        "limit": 5000,
        "read_only": False,
    }
    edit = call("core_memory_append", label="human", content="Caroline likes pottery.")
    messages = [
        HumanMessage(content="I took up pottery last month, it's so calming.", id="u1"),
        AIMessage(content="", tool_calls=[edit], id="a1"),
        ToolMessage(
            content="Appended to 'human' (23/5,000 characters).\n"
            + render_block_update("human", block),
            tool_call_id=edit["id"],
            name="core_memory_append",
            id="t1",
        ),
        AIMessage(content="", tool_calls=[call("send_message", message="")], id="a2"),
        ToolMessage(
            content="Message sent to the user.", tool_call_id="x", name="send_message", id="t2"
        ),
    ]
    index = _index(tmp_path / "recall.sqlite")
    tid, _ = index.thread("t")
    index.add(tid, messages, {})
    rows = dict(index.conn.execute("SELECT message_id, text FROM entries").fetchall())
    assert rows == {"u1": messages[0].content, "t1": "Appended to 'human' (23/5,000 characters)."}

    # The model's answer arrives in full under the same id (a stream, a resend).
    said = tool_turn(call("send_message", message="Pottery sounds lovely and calming!"))
    said.id = "a2"
    index.add(tid, [said], {})
    assert index.search(tid, "lovely", limit=5).hits[0].message_id == "a2"
    terms = {r[0] for r in index.conn.execute("SELECT term FROM temp.index_terms")}
    assert {"potteri", "love", "append"} <= terms
    assert "metadata" not in terms  # a word of the echoed block only
    assert not terms & STOPWORDS, terms & STOPWORDS
