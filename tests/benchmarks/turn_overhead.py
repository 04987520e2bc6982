"""Per-turn graph overhead and checkpoint storage as a conversation grows.

Runs the compiled agent with a scripted zero-latency model and an 8K window on a SQLite
checkpoint file for each requested number of turns, and prints for each length:
the median per-turn time of everything except model calls (measured over the last 100 turns,
i.e. the cost *at* that length), the checkpoint bytes added per turn over the last 1,000 turns
(SQLite grows its file in uneven steps), the
checkpoint file's and the recall index's bytes per token of conversation, and their sum.

The scripted model answers each user message with send_message and, when asked to remember
something, edits the human block: appending until the block is 80% full, then overwriting its
oldest fact (blocks keep their default 5,000-character limit, as in real use).

    python tests/benchmarks/turn_overhead.py 10 1000 10000

Ends with ``per-turn overhead p50: X ms at 10 turns, Y ms at N turns`` and the same as
ratios to LangGraph's floor measured in the run (three empty nodes on the same saver):
``per-turn overhead: A x LangGraph's floor at 10 turns, B x at N turns``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
from langgraph_memgpt.checkpoints.history import read_log
from langgraph_memgpt.embeddings import EmbeddingModel
from langgraph_memgpt.memory.recall import index_location
from langgraph_memgpt.search.recall_index import RecallIndex
from langgraph_memgpt.steps import drive
from langgraph_memgpt.testing import ScriptedChatModel, call, tool_turn
from langgraph_memgpt.tokens import count_text

WINDOW = 8192
WORDS = (
    "tea garden paris music project deadline family dog weekend recipe book travel train "
    "doctor birthday guitar python meeting coffee rain summer marathon piano sister job"
).split()


class TimedModel(ScriptedChatModel):
    """A scripted model that keeps the time spent inside it, to subtract from each turn."""

    seconds_inside: float = 0.0

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super()._generate(messages, *args, **kwargs)
        finally:
            self.seconds_inside += time.perf_counter() - started


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def make_model(rng: random.Random, block_char_limit: int) -> TimedModel:
    saved: list[str] = []  # facts this model appended to the human block, oldest first

    def remember() -> AIMessage:
        """Append a fact; once the block is 80% full, overwrite the oldest one instead, as
        the prompt tells a real model to do (a block never grows past its limit)."""
        fact = sentence(rng, 8)
        if sum(len(f) + 1 for f in saved) + len(fact) < 0.8 * block_char_limit - 300:
            saved.append(fact)
            edit = call("core_memory_append", label="human", content=fact, request_heartbeat=True)
        else:
            oldest = saved.pop(0)
            saved.append(fact)
            edit = call(
                "core_memory_replace",
                label="human",
                old_content=oldest,
                new_content=fact,
                request_heartbeat=True,
            )
        return tool_turn(edit)

    def answer(messages: list[BaseMessage]) -> AIMessage:
        if "running summary" in str(messages[0].content):
            return AIMessage(content="Summary: " + sentence(rng, 150))
        last = messages[-1]
        if last.type == "human" and "remember" in str(last.content) and rng.random() < 0.5:
            return remember()
        return tool_turn(call("send_message", message=sentence(rng, 45)))

    # Usage reporting is off: counting an 8K prompt is the model's work, not the graph's.
    return TimedModel(default=answer, reported_ratio=None)


def file_bytes(path: Path) -> int:
    """The SQLite file with its WAL and shared-memory files."""
    files = path.parent.glob(path.name + "*")
    return sum(p.stat().st_size for p in files if "-recall" not in p.name)


def recall_index_bytes(saver: Any, db: Path, thread: str) -> int:
    """Size of the recall index built from the thread's checkpoints, as a search would build it.

    Index rows have a fixed size whatever the vector values (int8 vectors), so a
    hash embedding of the same dimension stands in for MiniLM: embedding 20,000 messages and
    their neighbour windows with the real model would take most of an hour on 2 cores.
    """
    location = Path(index_location(f"sqlite:{db}"))
    index = RecallIndex(location, EmbeddingModel("hash", 384, DeterministicFakeEmbedding(size=384)))
    tid, cursor = index.thread(f"sqlite:{db}|{thread}")
    batch = drive(read_log(saver, thread, cursor))
    index.add(tid, batch.messages, batch.cursor)
    index.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index.conn.close()
    return sum(p.stat().st_size for p in db.parent.glob(location.name + "*"))


class FloorState(TypedDict):
    messages: Annotated[list, add_messages]
    step: int


def langgraph_floor(workdir: Path, durability: str, turns: int = 200) -> float:
    """Median time of a turn through three do-nothing nodes on the same saver: LangGraph's own
    cost per turn on this machine, which no graph of this shape can go below."""
    builder = StateGraph(FloorState)
    for name, nxt in (("a", "b"), ("b", "c"), ("c", None)):
        builder.add_node(name, lambda s: {"step": 1})
        if nxt:
            builder.add_edge(name, nxt)
    builder.add_edge(START, "a")
    times = []
    with open_sqlite_checkpointer(workdir / "floor.sqlite") as saver:
        graph = builder.compile(checkpointer=saver)
        for _ in range(turns):
            started = time.perf_counter()
            graph.invoke(
                {"messages": [("user", "hi")]},
                {"configurable": {"thread_id": "f"}},
                durability=durability,
            )
            times.append(time.perf_counter() - started)
    return statistics.median(times[10:]) * 1000


def warm_up(workdir: Path, durability: str) -> None:
    """First calls pay for imports, tokenizer loading and caches: keep them out of the figures."""
    with open_sqlite_checkpointer(workdir / "warm-up.sqlite") as saver:
        agent = build_graph(make_model(random.Random(0), 5000), checkpointer=saver)
        for _ in range(5):
            agent.invoke(
                {"messages": [("user", "hello")]},
                {"configurable": {"thread_id": "w"}},
                context=Context(context_window=WINDOW),
                durability=durability,
            )


def run(turns: int, workdir: Path, durability: str = "exit", seed: int = 7) -> dict[str, float]:
    rng = random.Random(seed)
    db = workdir / f"bench-{turns}.sqlite"
    ctx = Context(context_window=WINDOW)
    model = make_model(rng, ctx.block_char_limit)
    overheads: list[float] = []
    conversation_tokens = 0
    size_mark = 0
    tail_start = max(0, turns - 100)
    # SQLite grows its file in uneven steps: bytes per turn are read over a longer window.
    size_start = max(0, turns - 1000)
    with open_sqlite_checkpointer(db) as saver:
        agent = build_graph(model, checkpointer=saver)
        config = {"configurable": {"thread_id": "bench"}}
        for turn in range(turns):
            text = sentence(rng, 40) + (" remember this" if turn % 10 == 0 else "")
            if turn == size_start:
                saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                size_mark = file_bytes(db)
            model.seconds_inside = 0.0
            started = time.perf_counter()
            state = agent.invoke(
                {"messages": [("user", text)]}, config, context=ctx, durability=durability
            )
            elapsed = time.perf_counter() - started
            overheads.append(elapsed - model.seconds_inside)
            reply = state["messages"][-2].tool_calls[0]["args"].get("message", "")
            conversation_tokens += count_text(text) + count_text(reply)
        saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        index_bytes = recall_index_bytes(saver, db, "bench")
    total = file_bytes(db)
    tail = overheads[tail_start:]
    return {
        "turns": turns,
        "p50_ms": statistics.median(tail) * 1000,
        "p95_ms": sorted(tail)[int(0.95 * (len(tail) - 1))] * 1000,
        "bytes_per_turn_tail": (total - size_mark) / (turns - size_start),
        "bytes_total": total,
        "bytes_per_token": total / max(1, conversation_tokens),
        "index_bytes_per_token": index_bytes / max(1, conversation_tokens),
        "tokens": conversation_tokens,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("turns", nargs="*", type=int, default=[10, 1000])
    parser.add_argument(
        "--durability",
        choices=["exit", "async", "sync"],
        default="exit",
        help="LangGraph durability mode (the terminal chat uses exit)",
    )
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(Path(tmp), args.durability)
        print(f"window {WINDOW} tokens, SQLite checkpointer, durability={args.durability}")
        print(
            f"{'turns':>7} {'p50 ms':>8} {'p95 ms':>8} {'B/turn (last 1000)':>19} "
            f"{'file MB':>9} {'B/token':>8} {'+ recall index':>15} {'= B/token':>10}"
        )
        for turns in args.turns:
            r = run(turns, Path(tmp), args.durability)
            results.append(r)
            print(
                f"{turns:>7} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} "
                f"{r['bytes_per_turn_tail']:>19,.0f} {r['bytes_total'] / 1e6:>9.2f} "
                f"{r['bytes_per_token']:>8.1f} {r['index_bytes_per_token']:>15.1f} "
                f"{r['bytes_per_token'] + r['index_bytes_per_token']:>10.1f}",
                flush=True,
            )
        floor = langgraph_floor(Path(tmp), args.durability)
        print(f"LangGraph floor on this machine (3 empty nodes, same saver): {floor:.2f} ms")
    first, last = results[0], results[-1]
    print(
        f"per-turn overhead p50: {first['p50_ms']:.2f} ms at {first['turns']} turns, "
        f"{last['p50_ms']:.2f} ms at {last['turns']} turns"
    )
    # The goal is a ratio to the floor measured in the same run: the machine's speed (and
    # whatever else shares its cores) cancels out.
    print(
        f"per-turn overhead: {first['p50_ms'] / floor:.1f} x LangGraph's floor at "
        f"{first['turns']} turns, {last['p50_ms'] / floor:.1f} x at {last['turns']} turns"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LANGSMITH_TRACING", "false")
    sys.exit(main())
