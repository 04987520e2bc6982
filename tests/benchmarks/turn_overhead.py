"""Per-turn graph overhead and checkpoint storage as a conversation grows.

Runs the compiled agent with a scripted zero-latency model and an 8K window on a SQLite
checkpoint file for each requested number of turns. The conversation is real text: the turns
of the LoCoMo dev file replayed in order and cycled (``--data``; ``--synthetic`` is the old
random-word generator, labelled as such). For each length it prints:
- the median per-turn time of everything except model calls over the last 100 turns (the
  cost *at* that length; a shorter length is repeated on new threads to 100 turns), LangGraph's
  floor (three empty nodes on the same saver, one of its turns after each of those turns, so
  both see the same machine), and their ratio;
- the checkpoint bytes added per turn over the last 1,000 turns, and the checkpoint file's
  and the recall index's bytes per token of conversation.
For the longest run it prints the bytes per turn of every 1,000-turn window, and from which
turn on they stay flat (within 10% of their mean).

The scripted model answers each user message with send_message and, when asked to remember
something, edits the human block: appending until the block is 80% full, then overwriting its
oldest fact (blocks keep their default 5,000-character limit, as in real use).

    python tests/benchmarks/turn_overhead.py 10 1000 10000 [--figures FILE]

Ends with ``per-turn overhead p50: X ms at 10 turns, ...`` and
``per-turn overhead: A x LangGraph's floor at 10 turns, B x at 1000 turns, C x at 10000 turns``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from figures import add_figures_argument, record
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
from langgraph_memgpt.checkpoints.history import QUEUE_CHANNEL, read_log
from langgraph_memgpt.embeddings import EmbeddingModel
from langgraph_memgpt.memory.recall import index_location
from langgraph_memgpt.search.recall_index import RecallIndex
from langgraph_memgpt.steps import drive
from langgraph_memgpt.testing import ScriptedChatModel, call, tool_turn
from langgraph_memgpt.tokens import count_text

WINDOW = 8192
STORAGE_WINDOW = 1000
LOCOMO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "locomo-dev.json"
SYNTHETIC_WORDS = (
    "tea garden paris music project deadline family dog weekend recipe book travel train "
    "doctor birthday guitar python meeting coffee rain summer marathon piano sister job"
).split()


class Conversation:
    """What the user says and the scripted model answers, turn by turn.

    By default the turns of a LoCoMo-format file replayed in order, cycled as often as the run
    needs (each replay gets fresh message ids and times from the graph): the user says one
    turn, the model's ``send_message`` carries the next. ``synthetic=True`` is the earlier
    generator, random words from a 24-word vocabulary, kept as a labelled option (it
    compresses far better than real text).
    """

    def __init__(self, path: Path | None, seed: int = 7, synthetic: bool = False) -> None:
        self.rng = random.Random(seed)
        self.synthetic = synthetic
        self.texts = [] if synthetic else locomo_texts(path or LOCOMO)
        self.position = 0
        self.reply = ""
        """The model's answer to the current user message."""

    @property
    def label(self) -> str:
        return "SYNTHETIC words" if self.synthetic else "LoCoMo turns, replayed"

    def _next(self, words: int) -> str:
        if self.synthetic:
            return " ".join(self.rng.choice(SYNTHETIC_WORDS) for _ in range(words))
        text = self.texts[self.position % len(self.texts)]
        self.position += 1
        return text

    def user(self, turn: int) -> str:
        """The user's message of ``turn`` (every tenth asks to remember it); sets the reply."""
        text = self._next(40) + (" Please remember this." if turn % 10 == 0 else "")
        self.reply = self._next(45)
        return text

    def fact(self) -> str:
        return self._next(8)[:120]

    def summary(self) -> str:
        return "Summary: " + " ".join(self._next(30) for _ in range(5))


def locomo_texts(path: Path) -> list[str]:
    if not path.exists():
        raise SystemExit(f"{path} not found: pass a LoCoMo-format file with --data")
    texts = []
    for sample in json.loads(path.read_text()):
        conversation = sample["conversation"]
        number = 1
        while f"session_{number}" in conversation:
            texts += [turn["text"] for turn in conversation[f"session_{number}"] if turn["text"]]
            number += 1
    return texts


class TimedModel(ScriptedChatModel):
    """A scripted model that keeps the time spent inside it, to subtract from each turn."""

    seconds_inside: float = 0.0

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super()._generate(messages, *args, **kwargs)
        finally:
            self.seconds_inside += time.perf_counter() - started


def make_model(conversation: Conversation, block_char_limit: int) -> TimedModel:
    saved: list[str] = []  # facts this model appended to the human block, oldest first

    def remember() -> AIMessage:
        """Append a fact; once the block is 80% full, overwrite the oldest one instead, as
        the prompt tells a real model to do (a block never grows past its limit)."""
        fact = conversation.fact()
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
            return AIMessage(content=conversation.summary())
        last = messages[-1]
        if (
            last.type == "human"
            and "remember" in str(last.content)
            and conversation.rng.random() < 0.5
        ):
            return remember()
        return tool_turn(call("send_message", message=conversation.reply))

    # Usage reporting is off: counting an 8K prompt is the model's work, not the graph's.
    return TimedModel(default=answer, reported_ratio=None)


def file_bytes(path: Path) -> int:
    """The SQLite file with its WAL and shared-memory files."""
    files = path.parent.glob(path.name + "*")
    return sum(p.stat().st_size for p in files if "-recall" not in p.name)


def recall_index_bytes(saver: Any, db: Path, thread: str) -> int:
    """Size of the recall index built from the thread's checkpoints as automatic retrieval
    builds it: caught up at every user message, so each turn's messages are added on their
    own and rewrite their neighbours' rows (5% larger than one batch, on this replay).

    Index rows have a fixed size whatever the vector values (int8 vectors), so a
    hash embedding of the same dimension stands in for MiniLM: embedding 20,000 messages and
    their neighbour windows with the real model would take most of an hour on 2 cores.
    """
    location = Path(index_location(f"sqlite:{db}"))
    index = RecallIndex(location, EmbeddingModel("hash", 384, DeterministicFakeEmbedding(size=384)))
    tid, cursor = index.thread(f"sqlite:{db}|{thread}")
    batch = drive(read_log(saver, thread, cursor))
    starts = sorted({0, *(i for i, m in enumerate(batch.messages) if m.type == "human")})
    for start, end in zip(starts, [*starts[1:], len(batch.messages)], strict=True):
        index.add(tid, batch.messages[start:end], batch.cursor)
    index.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index.conn.close()
    return sum(p.stat().st_size for p in db.parent.glob(location.name + "*"))


class FloorState(TypedDict):
    messages: Annotated[list, add_messages]
    step: int


class Floor:
    """LangGraph's own cost per turn on this machine: three do-nothing nodes on our saver, a
    new file and thread each time (no graph of this shape can go below it)."""

    def __init__(self, workdir: Path, durability: str) -> None:
        builder = StateGraph(FloorState)
        for name, nxt in (("a", "b"), ("b", "c"), ("c", None)):
            builder.add_node(name, lambda s: {"step": 1})
            if nxt:
                builder.add_edge(name, nxt)
        builder.add_edge(START, "a")
        self.durability = durability
        self._opened = open_sqlite_checkpointer(Path(tempfile.mkdtemp(dir=workdir)) / "f.sqlite")
        self.graph = builder.compile(checkpointer=self._opened.__enter__())
        for _ in range(10):  # its first turns are not its floor
            self.turn()

    def turn(self) -> float:
        started = time.perf_counter()
        self.graph.invoke(
            {"messages": [("user", "hi")]},
            {"configurable": {"thread_id": "f"}},
            durability=self.durability,
        )
        return time.perf_counter() - started

    def close(self) -> None:
        self._opened.__exit__(None, None, None)


def langgraph_floor(workdir: Path, durability: str, turns: int = 200) -> float:
    """Median ms of ``turns`` turns of a new :class:`Floor`."""
    floor = Floor(workdir, durability)
    try:
        return statistics.median(floor.turn() for _ in range(turns)) * 1000
    finally:
        floor.close()


def warm_up(workdir: Path, durability: str) -> None:
    """First calls pay for imports, tokenizer loading and caches: keep them out of the figures."""
    with open_sqlite_checkpointer(workdir / "warm-up.sqlite") as saver:
        conversation = Conversation(None, synthetic=True)
        agent = build_graph(make_model(conversation, 5000), checkpointer=saver)
        for turn in range(5):
            agent.invoke(
                {"messages": [("user", conversation.user(turn))]},
                {"configurable": {"thread_id": "w"}},
                context=Context(context_window=WINDOW),
                durability=durability,
            )


def run(
    turns: int, workdir: Path, conversation: Conversation, durability: str = "exit"
) -> dict[str, Any]:
    """One thread of ``turns`` turns on a new checkpoint file: the overhead at its end, and its
    storage (also per 1,000-turn window, each read after folding the WAL into the file).

    Over the last 100 turns a turn of LangGraph's floor follows each of ours, so the two are
    measured under the same conditions. A length under 100 turns is repeated on new threads
    (after the storage is read) until it has 100 such pairs: ten turns alone make a noisy
    median."""
    db = workdir / f"bench-{turns}.sqlite"
    ctx = Context(context_window=WINDOW)
    model = make_model(conversation, ctx.block_char_limit)
    overheads: list[float] = []
    floors: list[float] = []
    conversation_tokens = 0
    windows: list[float] = []  # bytes per turn in each 1,000-turn window
    floor = Floor(workdir, durability)

    def turn(config: dict[str, Any], number: int) -> dict[str, Any]:
        text = conversation.user(number)
        model.seconds_inside = 0.0
        started = time.perf_counter()
        state = agent.invoke(
            {"messages": [("user", text)]}, config, context=ctx, durability=durability
        )
        overheads.append(time.perf_counter() - started - model.seconds_inside)
        if number >= turns - 100:
            floors.append(floor.turn())
        reply = state["messages"][-2].tool_calls[0]["args"].get("message", "")
        return {"tokens": count_text(text) + count_text(reply)}

    with open_sqlite_checkpointer(db) as saver:
        agent = build_graph(model, checkpointer=saver)
        mark = file_bytes(db)
        for number in range(turns):
            conversation_tokens += turn({"configurable": {"thread_id": "bench"}}, number)["tokens"]
            if (number + 1) % STORAGE_WINDOW == 0:
                saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                size = file_bytes(db)
                windows.append((size - mark) / STORAGE_WINDOW)
                mark = size
        saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        parts = storage_parts(saver)
        index_bytes = recall_index_bytes(saver, db, "bench")
    total = file_bytes(db)
    tail = overheads[max(0, turns - 100) :]
    repeats = -(-100 // turns)
    if repeats > 1:  # timing only, on a file of their own
        with open_sqlite_checkpointer(workdir / f"repeats-{turns}.sqlite") as saver:
            agent = build_graph(model, checkpointer=saver)
            for repeat in range(1, repeats):
                overheads.clear()
                for number in range(turns):
                    turn({"configurable": {"thread_id": f"bench-{repeat}"}}, number)
                tail += overheads
    floor.close()
    return {
        "turns": turns,
        "p50_ms": statistics.median(tail) * 1000,
        "p95_ms": sorted(tail)[int(0.95 * (len(tail) - 1))] * 1000,
        "floor_ms": statistics.median(floors) * 1000,
        "bytes_per_turn_tail": windows[-1] if windows else total / turns,
        "windows": windows,
        "bytes_total": total,
        "bytes_per_token": total / max(1, conversation_tokens),
        "index_bytes_per_token": index_bytes / max(1, conversation_tokens),
        "tokens": conversation_tokens,
        "parts": {**parts, "recall index": index_bytes},
    }


def storage_parts(saver: Any) -> dict[str, int]:
    """Stored bytes (before SQLite's page slack) of the checkpoints, of the queue snapshots
    among them (the checkpoints that hold the queue itself), of the queue's writes, and of the
    large channel values kept once per version (``checkpoints/channel_blobs.py``)."""
    checkpoints = snapshots = 0
    for type_, blob in saver.conn.execute("SELECT type, checkpoint FROM checkpoints"):
        checkpoints += len(blob)
        if QUEUE_CHANNEL in saver.serde.loads_typed((type_, blob))["channel_values"]:
            snapshots += len(blob)
    (writes,) = saver.conn.execute("SELECT sum(length(value)) FROM writes").fetchone()
    (apart,) = saver.conn.execute("SELECT sum(length(blob)) FROM memgpt_channel_blobs").fetchone()
    return {
        "checkpoints without snapshots": checkpoints - snapshots,
        "queue snapshots": snapshots,
        "queue writes": writes or 0,
        "values stored once per version": apart or 0,
    }


def flatness(windows: list[float]) -> tuple[int, float, float] | None:
    """From which window on the bytes per turn stay within 10% of their mean after it, with
    that mean and the largest deviation (None before two windows)."""
    for first in range(len(windows) - 1):
        rest = windows[first:]
        mean = statistics.mean(rest)
        spread = max(abs(w - mean) for w in rest) / mean
        if spread <= 0.10:
            return first, mean, spread
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("turns", nargs="*", type=int, default=[10, 1000, 10000])
    parser.add_argument(
        "--data", type=Path, default=LOCOMO, help="LoCoMo-format file whose turns are replayed"
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="SYNTHETIC conversation (random words from 24) instead of the LoCoMo turns",
    )
    parser.add_argument(
        "--durability",
        choices=["exit", "async", "sync"],
        default="exit",
        help="LangGraph durability mode (the terminal chat uses exit)",
    )
    add_figures_argument(parser)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(Path(tmp), args.durability)
        label = Conversation(args.data, synthetic=args.synthetic).label
        print(f"window {WINDOW} tokens, SQLite checkpointer, durability={args.durability}, {label}")
        print(
            f"{'turns':>7} {'p50 ms':>8} {'p95 ms':>8} {'floor ms':>9} {'x floor':>8} "
            f"{'B/turn (last 1000)':>19} {'file MB':>9} {'B/token':>8} {'+ recall index':>15} "
            f"{'= B/token':>10}"
        )
        for turns in args.turns:
            conversation = Conversation(args.data, synthetic=args.synthetic)
            r = run(turns, Path(tmp), conversation, args.durability)
            results.append(r)
            print(
                f"{turns:>7} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['floor_ms']:>9.2f} "
                f"{r['p50_ms'] / r['floor_ms']:>8.2f} "
                f"{r['bytes_per_turn_tail']:>19,.0f} {r['bytes_total'] / 1e6:>9.2f} "
                f"{r['bytes_per_token']:>8.1f} {r['index_bytes_per_token']:>15.1f} "
                f"{r['bytes_per_token'] + r['index_bytes_per_token']:>10.1f}",
                flush=True,
            )
    longest = max(results, key=lambda r: r["turns"])
    summary = [
        f"storage by part at {longest['turns']:,} turns, bytes per turn: "
        + ", ".join(
            f"{name} {size / longest['turns']:,.0f}" for name, size in longest["parts"].items()
        )
    ]
    if len(longest["windows"]) >= 2:
        windows = ", ".join(f"{w:,.0f}" for w in longest["windows"])
        print(f"checkpoint bytes per turn, by 1,000-turn window: {windows}")
        flat = flatness(longest["windows"])
        summary.append(
            "storage per turn: "
            + (
                f"flat from turn {flat[0] * STORAGE_WINDOW:,} ({flat[1]:,.0f} B/turn, "
                f"every later window within {flat[2]:.0%})"
                if flat
                else "not flat (no run of windows within 10%)"
            )
            + f"; {longest['bytes_per_token'] + longest['index_bytes_per_token']:.1f} B/token "
            f"with the recall index at {longest['turns']:,} turns"
        )
    first = results[0]
    summary.append(
        "per-turn overhead p50: "
        + ", ".join(f"{r['p50_ms']:.2f} ms at {r['turns']} turns" for r in results)
    )
    # The goal is a ratio to the floor measured in the same run: the machine's speed (and
    # whatever else shares its cores) cancels out.
    summary.append(
        f"per-turn overhead: {first['p50_ms'] / first['floor_ms']:.2f} x LangGraph's floor at "
        f"{first['turns']} turns"
        + "".join(
            f", {r['p50_ms'] / r['floor_ms']:.2f} x at {r['turns']} turns" for r in results[1:]
        )
    )
    for line in summary:
        print(line)
    record(
        args.figures,
        "turn_overhead",
        summary=summary,
        columns=[
            "turns", "p50 ms (all but model calls)", "p95 ms", "LangGraph floor ms", "x floor",
            "B/turn, last 1,000 turns", "checkpoint file MB", "B/token: checkpoints",
            "+ recall index", "= total",
        ],
        rows=[
            [
                r["turns"], r["p50_ms"], r["p95_ms"], r["floor_ms"],
                f"{r['p50_ms'] / r['floor_ms']:.2f}", round(r["bytes_per_turn_tail"]),
                r["bytes_total"] / 1e6, f"{r['bytes_per_token']:.1f}",
                f"{r['index_bytes_per_token']:.1f}",
                f"{r['bytes_per_token'] + r['index_bytes_per_token']:.1f}",
            ]
            for r in results
        ],
        notes=[f"Conversation: {label}."],
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LANGSMITH_TRACING", "false")
    sys.exit(main())
