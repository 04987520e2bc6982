"""Recall-memory search quality on LoCoMo, and search latency as a thread grows.

Each conversation goes into its own thread, session by session, as messages recorded through
the graph (``update_state``, the path Studio and imports use; no LLM needed): speaker A as the
user, speaker B as the assistant, each turn with its speaker's name, its session's date as its
timestamp, and an image's caption where the turn shared one. Then every question with evidence
is asked through the conversation_search code path with the question as the query, and
recall@1/5/10/25 of the evidence turns is printed per category and overall.

    python tests/benchmarks/locomo_recall.py ../shared/data/locomo-dev.json
    python tests/benchmarks/locomo_recall.py PATH --limit 100 --latency 1000,10000,100000
    python tests/benchmarks/locomo_recall.py PATH --figures FILE   # records the figures (README)

Then, on a file of several conversations, the ranking constants are cross-validated: for each
conversation, the tuning (``SearchTuning``; ``TUNINGS`` lists the alternatives, the shipped
defaults among them) with the best recall@10 on the other conversations' questions is scored
on its own questions, and the held-out scores of all questions are pooled.

Ends with the line ``recall@10 overall: NN.N% (...)``: the leave-one-conversation-out figure
(the shipped constants' figure with ``--limit`` or a single conversation).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from figures import add_figures_argument
from figures import record as record_figures
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage
from langgraph_memgpt import build_graph
from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
from langgraph_memgpt.checkpoints.history import read_log
from langgraph_memgpt.embeddings import EmbeddingModel, load_embedding_model
from langgraph_memgpt.memory.recall import recall_index, search_conversation
from langgraph_memgpt.search.recall_index import SearchTuning
from langgraph_memgpt.steps import drive
from langgraph_memgpt.testing import ScriptedChatModel

KS = (1, 5, 10, 25)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_DATE = re.compile(r"(\d{1,2}):(\d{2})\s*([ap]m) on (\d{1,2}) (\w+),? (\d{4})", re.IGNORECASE)


def session_time(text: str) -> str | None:
    """'1:56 pm on 8 May, 2023' -> '2023-05-08T13:56:00+00:00'."""
    match = _DATE.search(text or "")
    if not match:
        return None
    hour, minute, half, day, month, year = match.groups()
    moment = datetime.strptime(f"{day} {month} {year} {hour}:{minute} {half}", "%d %B %Y %I:%M %p")
    return moment.isoformat() + "+00:00"


def conversation_messages(sample: dict[str, Any]) -> list[list[BaseMessage]]:
    """The conversation as messages, one list per session in order."""
    conv = sample["conversation"]
    speaker_a = conv["speaker_a"]
    sessions = sorted(
        (int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k)),
    )
    result = []
    for number in sessions:
        stamp = session_time(conv.get(f"session_{number}_date_time", ""))
        batch: list[BaseMessage] = []
        for turn in conv[f"session_{number}"]:
            text = turn["text"]
            if turn.get("blip_caption"):
                text = f"{text} [shares an image: {turn['blip_caption']}]"
            kind = HumanMessage if turn["speaker"] == speaker_a else AIMessage
            batch.append(
                kind(
                    content=text,
                    name=turn["speaker"],
                    id=f"{sample['sample_id']}/{turn['dia_id']}",
                    additional_kwargs={"timestamp": stamp} if stamp else {},
                )
            )
        result.append(batch)
    return result


def evidence_ids(raw: list[str]) -> set[str]:
    ids = set()
    for item in raw:
        for part in re.split(r"[;,]", item):
            part = part.strip().replace("D:", "D")
            if re.fullmatch(r"D\d+:\d+", part):
                ids.add(part)
    return ids


def record(agent: Any, thread: str, sessions: list[list[BaseMessage]]) -> None:
    """Record sessions the way the agent's queue holds them: the queue stays a bounded window
    (older sessions are removed from it, as eviction does), the checkpoints keep everything."""
    config = {"configurable": {"thread_id": thread}}
    previous: list[BaseMessage] = []
    for batch in sessions:
        removals = [RemoveMessage(id=m.id) for m in previous]
        agent.update_state(config, {"messages": [*removals, *batch]}, as_node="execute_tools")
        previous = batch


def evaluate(path: str, limit: int | None, workdir: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    per_category: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    overall: dict[int, list[float]] = defaultdict(list)
    latencies: list[float] = []
    asked = messages = 0
    database = workdir / "locomo.sqlite"
    with open_sqlite_checkpointer(database) as saver:
        agent = build_graph(ScriptedChatModel(), checkpointer=saver)
        for sample in data:
            thread = sample["sample_id"]
            sessions = conversation_messages(sample)
            messages += sum(len(session) for session in sessions)
            record(agent, thread, sessions)
            search_conversation(saver, thread, "warm up")  # indexes the thread
            for qa in sample["qa"]:
                evidence = evidence_ids(qa.get("evidence") or [])
                if not evidence:
                    continue
                if limit is not None and asked >= limit:
                    break
                asked += 1
                started = time.perf_counter()
                page = search_conversation(saver, thread, str(qa["question"]), limit=max(KS))
                latencies.append(time.perf_counter() - started)
                ranked = [h.message_id.split("/", 1)[1] for h in page.hits]
                for k in KS:
                    found = len(evidence & set(ranked[:k])) / len(evidence)
                    per_category[qa["category"]][k].append(found)
                    overall[k].append(found)
    index = recall_index(f"sqlite:{database}")
    index.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index_file = Path(index.path)
    index_bytes = sum(p.stat().st_size for p in index_file.parent.glob(index_file.name + "*"))
    return {
        "per_category": per_category,
        "overall": overall,
        "asked": asked,
        "latencies": latencies,
        "index_bytes_per_message": index_bytes / max(1, messages),
    }


TUNINGS = [
    SearchTuning(rrf_k=k, semantic_weight=w, fts_weights=f)
    for k in (5, 10, 20, 40)
    for w in (0.7, 1.0, 1.4)
    for f in (
        (0.0, 1.0, 0.3, 0.3, 0.1, 0.1, 1.0),
        (0.0, 1.0, 0.5, 0.5, 0.25, 0.25, 1.0),
        (0.0, 1.0, 0.7, 0.7, 0.4, 0.4, 1.0),
    )
]
"""The alternatives cross-validation chooses among (the shipped defaults are one of them)."""


class QueryMemo:
    """Embeds each query once: the grid asks every question once per tuning."""

    def __init__(self, model: EmbeddingModel) -> None:
        self.model = model
        self.cache: dict[str, list[float]] = {}

    def embed_query(self, text: str) -> list[float]:
        if text not in self.cache:
            self.cache[text] = self.model.embed_query(text)
        return self.cache[text]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)


def cross_validate(path: str, workdir: Path) -> dict[str, Any]:
    """Leave one conversation out: for each conversation, the tuning with the best recall@10
    on the others' questions, scored on its own. Uses the threads ``evaluate`` recorded."""
    data = json.loads(Path(path).read_text())
    database = workdir / "locomo.sqlite"
    index = recall_index(f"sqlite:{database}")
    original_embedder, original_tuning = index.embedder, index.tuning
    base = original_embedder
    index.embedder = EmbeddingModel(base.name, base.dimensions, QueryMemo(base))  # type: ignore[arg-type]
    # scores[tuning][sample_id]: recall@10 of each of that conversation's questions
    scores: list[dict[str, list[float]]] = []
    try:
        with open_sqlite_checkpointer(database) as saver:
            for tuning in TUNINGS:
                index.tuning = tuning
                by_sample: dict[str, list[float]] = defaultdict(list)
                for sample in data:
                    for qa in sample["qa"]:
                        evidence = evidence_ids(qa.get("evidence") or [])
                        if not evidence:
                            continue
                        page = search_conversation(
                            saver, sample["sample_id"], str(qa["question"]), limit=10
                        )
                        ranked = {h.message_id.split("/", 1)[1] for h in page.hits}
                        by_sample[sample["sample_id"]].append(
                            len(evidence & ranked) / len(evidence)
                        )
                scores.append(by_sample)
    finally:
        index.embedder, index.tuning = original_embedder, original_tuning
    held_out: list[float] = []
    folds = []
    samples = [sample["sample_id"] for sample in data]
    for sample_id in samples:

        def training_recall(i: int, held: str = sample_id) -> float:
            pooled = [r for sid, rs in scores[i].items() if sid != held for r in rs]
            return statistics.mean(pooled)

        best = max(range(len(TUNINGS)), key=training_recall)
        held_out.extend(scores[best][sample_id])
        folds.append((sample_id, TUNINGS[best], statistics.mean(scores[best][sample_id])))
    return {"recall": statistics.mean(held_out), "folds": folds, "questions": len(held_out)}


class MemoEmbeddings:
    """For building large synthetic threads fast: each pooled message text is embedded once
    for real; the neighbour-window texts (new combinations at every position) get a
    deterministic pseudo-random unit vector. Search latency does not depend on the values,
    and embedding 200,000 windows on a laptop CPU would take hours."""

    def __init__(self, model: EmbeddingModel, pool: list[str]) -> None:
        self.model = model
        self.cache: dict[str, list[float]] = {}
        self.pool = set(pool)
        self.dims = model.dimensions

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        real = [t for t in missing if t.split(": ", 1)[-1] in self.pool]
        for text, vector in zip(real, self.model.embed_documents(real), strict=True):
            self.cache[text] = vector
        return [self.cache[t] if t in self.cache else self._pseudo(t) for t in texts]

    def _pseudo(self, text: str) -> list[float]:
        vector = np.random.default_rng(abs(hash(text)) % (2**32)).standard_normal(self.dims)
        return (vector / np.linalg.norm(vector)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def latency(
    sizes: list[int], workdir: Path, data_path: str, queries: int = 50
) -> list[dict[str, float]]:
    """Search latency in one long thread of ``size`` messages.

    The messages are real LoCoMo turns drawn at random (a realistic vocabulary; each distinct
    text is embedded once), the queries real LoCoMo questions.
    """
    rng = random.Random(3)
    data = json.loads(Path(data_path).read_text())
    pool = [
        m.content for sample in data for session in conversation_messages(sample) for m in session
    ]
    questions = [str(qa["question"]) for sample in data for qa in sample["qa"]]
    base = load_embedding_model()
    memo = EmbeddingModel(base.name, base.dimensions, MemoEmbeddings(base, pool))  # type: ignore[arg-type]
    results = []
    for size in sizes:
        with open_sqlite_checkpointer(workdir / f"latency-{size}.sqlite") as saver:
            agent = build_graph(ScriptedChatModel(), checkpointer=saver)
            thread = f"synthetic-{size}"
            batches: list[list[BaseMessage]] = [[]]
            for i in range(size):
                kind = HumanMessage if i % 2 == 0 else AIMessage
                batches[-1].append(
                    kind(
                        content=rng.choice(pool),
                        id=f"s{size}-{i}",
                        additional_kwargs={"timestamp": "2024-01-01T00:00:00"},
                    )
                )
                if len(batches[-1]) == 1000:
                    batches.append([])
            record(agent, thread, batches)
            source = f"sqlite:{workdir / f'latency-{size}.sqlite'}"
            index = recall_index(source)
            index.embedder = memo
            search_conversation(saver, thread, "warm up")
            index.embedder = base
            times = []
            for _ in range(queries):
                query = rng.choice(questions)
                started = time.perf_counter()
                search_conversation(saver, thread, query, limit=10)
                times.append(time.perf_counter() - started)
            # Keeping the index current: one more turn recorded, then caught up.
            turn_costs = []
            for t in range(10):
                turn = [
                    HumanMessage(content=f"new question {t} about the garden", id=f"n{size}-{t}a"),
                    AIMessage(content=f"new answer {t} about the lake", id=f"n{size}-{t}b"),
                ]
                agent.update_state(
                    {"configurable": {"thread_id": thread}},
                    {"messages": turn},
                    as_node="execute_tools",
                )
                started = time.perf_counter()
                tid, cursor = index.thread(f"{source}|{thread}")
                batch_read = drive(read_log(saver, thread, cursor))
                index.add(tid, batch_read.messages, batch_read.cursor)
                turn_costs.append(time.perf_counter() - started)
            times.sort()
            results.append(
                {
                    "size": size,
                    "p50": statistics.median(times) * 1000,
                    "p95": times[int(0.95 * (len(times) - 1))] * 1000,
                    "index_per_turn": statistics.median(turn_costs) * 1000,
                }
            )
            print(
                f"  {size:>7,} messages: search p50 {results[-1]['p50']:.1f} ms, "
                f"p95 {results[-1]['p95']:.1f} ms; keeping the index current: "
                f"{results[-1]['index_per_turn']:.1f} ms per turn",
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", help="a LoCoMo-format JSON file")
    parser.add_argument("--limit", type=int, help="ask only the first N questions")
    parser.add_argument(
        "--latency",
        default="",
        help="comma-separated thread sizes for the latency table, e.g. 1000,10000,100000",
    )
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="skip the recall evaluation, print only the latency table",
    )
    add_figures_argument(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MEMGPT_RECALL_INDEX"] = ""
        if args.latency_only:
            timed = latency([int(s) for s in args.latency.split(",")], Path(tmp), args.path)
            record_latency(args.figures, args.path, timed)
            return 0
        result = evaluate(args.path, args.limit, Path(tmp))
        print(f"{result['asked']} questions with evidence")
        print(f"{'category':<22}" + "".join(f"{'R@' + str(k):>8}" for k in KS) + f"{'n':>6}")
        for category in sorted(result["per_category"]):
            scores = result["per_category"][category]
            name = f"{category} {CATEGORIES.get(category, '')}"
            print(
                f"{name:<22}"
                + "".join(f"{100 * statistics.mean(scores[k]):>7.1f}%" for k in KS)
                + f"{len(scores[KS[0]]):>6}"
            )
        print(
            f"{'overall':<22}"
            + "".join(f"{100 * statistics.mean(result['overall'][k]):>7.1f}%" for k in KS)
        )
        lat = sorted(result["latencies"])
        print(
            f"search latency on these threads: p50 {1000 * statistics.median(lat):.1f} ms, "
            f"p95 {1000 * lat[int(0.95 * (len(lat) - 1))]:.1f} ms (query embedding included)"
        )
        print(f"recall index size: {result['index_bytes_per_message']:,.0f} bytes per message")
        shipped = 100 * statistics.mean(result["overall"][10])
        summary = [f"recall@10 with the shipped constants: {shipped:.1f}%"]
        print(summary[-1])
        crossed = None
        if (
            args.limit is None
            and len({s["sample_id"] for s in json.loads(Path(args.path).read_text())}) > 1
        ):
            crossed = cross_validate(args.path, Path(tmp))
            summary.append(f"leave-one-conversation-out ({len(TUNINGS)} tunings to choose from):")
            print(summary[-1])
            for sample_id, tuning, held in crossed["folds"]:
                summary.append(
                    f"  {sample_id}: recall@10 {100 * held:.1f}% with rrf_k {tuning.rrf_k}, "
                    f"semantic weight {tuning.semantic_weight}, neighbour weights "
                    f"{tuning.fts_weights[2]}/{tuning.fts_weights[4]}"
                )
                print(summary[-1])
        timed: list[dict[str, float]] = []
        if args.latency:
            print("latency by thread size (synthetic messages):")
            timed = latency([int(s) for s in args.latency.split(",")], Path(tmp), args.path)
    if crossed is None:
        summary.append(f"recall@10 overall: {shipped:.1f}% (shipped constants)")
    else:
        summary.append(
            f"recall@10 overall: {100 * crossed['recall']:.1f}% (leave-one-conversation-out, "
            f"{crossed['questions']} questions)"
        )
    print(summary[-1])

    def percent(scores: dict[int, list[float]]) -> list[str]:
        return [f"{100 * statistics.mean(scores[k]):.1f}%" for k in KS]

    conversations = len(json.loads(Path(args.path).read_text()))
    record_figures(
        args.figures,
        "locomo_recall",
        summary=summary,
        columns=["category", *(f"R@{k}" for k in KS), "n"],
        rows=[
            [f"{category} {CATEGORIES.get(category, '')}", *percent(scores), len(scores[KS[0]])]
            for category, scores in sorted(result["per_category"].items())
        ]
        + [["**overall**", *percent(result["overall"]), result["asked"]]],
        notes=[
            f"Data: {Path(args.path).name}, {conversations} conversations, {result['asked']} "
            f"questions with evidence; the table is the shipped constants'. Search p50 on these "
            f"threads {1000 * statistics.median(lat):.1f} ms (query embedding included); the "
            f"recall index takes {result['index_bytes_per_message']:,.0f} bytes per message."
        ],
    )
    if timed:
        record_latency(args.figures, args.path, timed)
    return 0


def record_latency(path: Path | None, data: str, timed: list[dict[str, float]]) -> None:
    """The latency table (``--latency``) under its own name, ``locomo_recall_latency``."""
    record_figures(
        path,
        "locomo_recall_latency",
        summary=[
            f"{r['size']:,} messages: search p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms; "
            f"keeping the index current: {r['index_per_turn']:.1f} ms per turn"
            for r in timed
        ],
        columns=["messages in the thread", "search p50 ms", "p95 ms",
                 "keeping the index current, ms per turn"],
        rows=[[int(r["size"]), r["p50"], r["p95"], r["index_per_turn"]] for r in timed],
        notes=[
            f"Turns drawn at random from {Path(data).name}, its questions as the queries; "
            "query embedding included."
        ],
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
