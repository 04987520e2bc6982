"""Consolidation of one LoCoMo conversation on the embedded engine, and what it adds to QA.

    python tests/benchmarks/consolidation.py ../shared/data/locomo-dev.json      # 1.5B, conv-30
    python tests/benchmarks/consolidation.py PATH --model qwen2.5-coder-0.5b --questions 10
    python tests/benchmarks/consolidation.py PATH --figures FILE   # records the figures (README)

One dev conversation (``--conversation``, default the shortest) is recorded as a thread, as
``locomo_qa.py`` records it (every turn a stamped user message "Speaker: ...", the checkpoints
hold it all), with the agent's default core memory blocks. The ``consolidate`` graph then reads
it with the model at a 4K window (ChatLlamaCpp on the embedded engine, the sqlite-vec archive
with all-MiniLM-L6-v2). Printed: messages and chunks, facts stored, duplicates and superseded,
entities and relations in the knowledge graph, the human block's edit, notes (skipped chunks),
and seconds per 100 messages.

Then a stratified subset of the conversation's LoCoMo questions (``--questions``, every
category) is asked through the agent twice, each question on its own branch of the recorded
thread, scored with LoCoMo's answer F1 (``locomo_qa.py``):

- ``without``: automatic retrieval from recall memory, the default core memory (the QA
  benchmark's ``retrieval`` configuration);
- ``with``: automatic retrieval from recall and the archive the consolidation filled, the
  consolidated ``human`` block, and ``knowledge_graph_search`` offered.

Ends with: ``consolidation: F facts (D duplicates), E entities, R relations, S s per 100
messages; QA F1 with X, without Y on N questions``.
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
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.archival import open_archive
from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
from langgraph_memgpt.graph.consolidate import consolidate_thread
from langgraph_memgpt.memory.archive import archive_namespace
from langgraph_memgpt.memory.knowledge import knowledge_namespace
from langgraph_memgpt.memory.recall import search_conversation
from langgraph_memgpt.nodes.agent import AgentSpec

sys.path.insert(0, str(Path(__file__).parent))
from figures import add_figures_argument
from figures import record as record_figures
from locomo_qa import (
    CATEGORIES,
    F1_COLUMNS,
    MAX_OUTPUT_TOKENS,
    MAX_STEPS,
    WINDOW,
    ask,
    branch_for,
    f1_cells,
    fixed_section_tokens,
    question_text,
    record,
    report,
    stratified,
    transcript,
)
from prompt_cache import start_engine

CONSOLIDATION_OUTPUT_TOKENS = 768
"""A chunk's answer (facts, entities, relations as JSON) is longer than a QA reply."""


def context(model: str, retrieval: str, max_output_tokens: int = MAX_OUTPUT_TOKENS) -> Context:
    return Context(
        model=f"llamacpp:{model}",
        context_window=WINDOW,
        max_output_tokens=max_output_tokens,
        max_steps=MAX_STEPS,
        retrieval=retrieval,
        user_id="locomo",
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a LoCoMo-format JSON file")
    parser.add_argument("--conversation", help="sample_id (default: the shortest)")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="packaged model or .gguf")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the report and every answer (JSON) here")
    parser.add_argument("--quiet", action="store_true", help="no line per chunk or question")
    add_figures_argument(parser)
    args = parser.parse_args(argv)
    data = json.loads(args.path.read_text())

    def size(sample: dict[str, Any]) -> int:
        return len(transcript(sample)[0])

    sample = (
        next(s for s in data if s["sample_id"] == args.conversation)
        if args.conversation
        else min(data, key=size)
    )
    thread = sample["sample_id"]
    messages, sessions = transcript(sample)
    questions = stratified([sample], args.questions, args.seed)
    print(
        f"conversation {thread}: {len(messages)} messages; model {args.model}, window {WINDOW}; "
        f"{len(questions)} questions",
        flush=True,
    )
    start_engine(args.model, WINDOW, CONSOLIDATION_OUTPUT_TOKENS)
    with tempfile.TemporaryDirectory(prefix="consolidation-") as tmp:
        workdir = Path(tmp)
        store = open_archive(workdir / "archive.sqlite")
        with open_sqlite_checkpointer(workdir / "threads.sqlite") as saver:
            plain = build_graph(checkpointer=saver, search_tools=False)
            with_memory = build_graph(checkpointer=saver, store=store, search_tools=False)
            recorded = record(plain, thread, messages)
            consolidating = context(args.model, "off", CONSOLIDATION_OUTPUT_TOKENS)
            recorded = plain.update_state(
                recorded,
                {"blocks": AgentSpec().missing_blocks(consolidating, {})},
                as_node="execute_tools",
            )
            search_conversation(saver, thread, "warm up")  # the recall index, before any clock

            def progress(done: int, total: int) -> None:
                if not args.quiet and done:
                    elapsed = time.perf_counter() - started
                    print(f"  consolidated {done}/{total} messages, {elapsed:.0f} s", flush=True)

            started = time.perf_counter()
            result = consolidate_thread(
                thread, checkpointer=saver, store=store, context=consolidating, progress=progress
            )
            seconds = time.perf_counter() - started
            per_100 = 100 * seconds / max(1, result["messages"])
            human = plain.get_state({"configurable": {"thread_id": thread}}).values["blocks"]
            entities, relations = (
                len(store.search(knowledge_namespace(consolidating, kind), limit=100_000))
                for kind in ("entities", "relations")
            )
            facts = [
                item.value["content"]
                for item in store.search(archive_namespace(consolidating), limit=100_000)
                if item.value.get("kind") == "fact"
            ]
            consolidated = (
                f"consolidated {result['messages']} messages in {result['chunks']} chunks, "
                f"{seconds:.0f} s ({per_100:.1f} s per 100 messages): {result['facts_added']} "
                f"facts stored, {result['duplicates']} duplicates, {result['superseded']} "
                f"superseded; {result['entities']} entity and {result['relations']} relation "
                f"mentions merged: {entities} entities and {relations} relations in the "
                f"knowledge graph; block edits {result['block_edits']}"
            )
            print(f"\n{consolidated}", flush=True)
            for note in result["notes"]:
                print(f"  note: {note}")
            print(f"human block now: {human['human']['value'][:400]!r}")
            print("facts stored (the first 12):")
            for fact in facts[:12]:
                print(f"  - {fact}")

            answers: dict[str, list[Any]] = {"without": [], "with": []}
            forgotten: list[str] = []
            for name, agent, retrieval in (
                ("without", plain, "recall"),
                ("with", with_memory, "both"),
            ):
                ctx = context(args.model, retrieval)
                fixed = fixed_section_tokens(ctx, search_tools=False)
                base = branch_for(agent, recorded, sample, messages, sessions, ctx, fixed)
                if name == "with":  # the consolidated core memory, not the defaults
                    base = agent.update_state(base, {"blocks": human}, as_node="execute_tools")
                rng = random.Random(f"{args.seed}/{thread}")
                for question in questions:
                    asked = question_text(question, rng)
                    answered = ask(agent, base, ctx, name, question, asked, forgotten)
                    answers[name].append(answered)
                    if not args.quiet:
                        print(
                            f"  [{name}] q{question.number} {CATEGORIES[question.category]}: "
                            f"F1 {answered.f1:.2f} {answered.seconds:.1f} s | "
                            f"{answered.reply[:80]!r} (answer "
                            f"{question.answer or question.adversarial_answer!r})",
                            flush=True,
                        )
        store.close()
    print()
    overall = {name: report(name, rows) for name, rows in answers.items()}
    if args.out:
        rows = [
            {**a.__dict__, "question": a.question.__dict__}
            for name in answers
            for a in answers[name]
        ]
        args.out.write_text(
            json.dumps(
                {
                    "model": args.model,
                    "consolidation": dict(result),
                    "facts": facts,
                    "human": human["human"]["value"],
                    "answers": rows,
                },
                indent=1,
            )
        )
    print(
        f"seconds per QA question p50: with "
        f"{statistics.median(a.seconds for a in answers['with']):.1f}, without "
        f"{statistics.median(a.seconds for a in answers['without']):.1f}"
    )
    line = (
        f"consolidation: {result['facts_added']} facts ({result['duplicates']} duplicates), "
        f"{entities} entities, {relations} relations, {per_100:.1f} s per 100 "
        f"messages; QA F1 with {overall['with']:.1f}, without {overall['without']:.1f} on "
        f"{len(questions)} questions"
    )
    print(line)
    record_figures(
        args.figures,
        "consolidation",
        summary=[consolidated, line],
        columns=["QA, automatic retrieval", *F1_COLUMNS],
        rows=[[f"{name} consolidation", *f1_cells(answers[name])] for name in answers],
        notes=[
            f"LoCoMo's {thread} ({len(messages)} messages, from {args.path.name}) consolidated "
            f"with {args.model} at a {WINDOW}-token window; then {len(questions)} of its "
            "questions asked through the agent, without and with what consolidation stored."
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
