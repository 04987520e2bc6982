"""A real model uses this memory: facts told over several sessions, pushed out of the window by
filler, then asked for. Runs on the embedded llama.cpp engine (built once per machine) with
packaged GGUF weights, through the compiled graph, a real SQLite checkpoint file and a real
sqlite-vec archive with all-MiniLM-L6-v2 embeddings: everything a user's chat would run.

    python tests/benchmarks/real_model.py                      # both Qwen models, 4K window
    python tests/benchmarks/real_model.py --models qwen2.5-coder-0.5b --window 4096
    python tests/benchmarks/real_model.py --figures FILE   # records the figures (README)

The script (``SCENARIO``) is one thread in four sessions: the user tells 22 facts of several
kinds (names, preferences, dates, plans; two of them later change and replace the older
value), real filler questions (whose long answers push the facts out of the window and
through eviction and summarization) come between them, and the last session asks one
question per fact that still holds, each with the exact answers accepted.

Printed per model:

- facts stored: a fact counts as stored when its expected answer is in core memory (any
  block) or in the user's archival passages when the questions begin;
- questions answered: the reply contains an expected answer (case-insensitive);
- tool calls: those that ran (native + read from text) out of every answer that called or
  tried to call a tool (plus unreadable call texts and replies that were raw call JSON);
- raw-JSON replies: turns whose reply, as the user would read it, was call JSON;
- seconds per turn (p50/p95, wall clock, model calls included) and per model call;
- prompt tokens: processed by the engine vs served from its prompt cache, as llama-server
  reported them (``usage.prompt_tokens`` and ``prompt_tokens_details.cached_tokens``);
- failed turns: a model call that still failed after its retries (counted; the run goes on).

It ends with one line per model:
``real-model <model>: answered A/Q, raw-json replies R, tool calls parsed P/T, p50 S s/turn``.
There is no accuracy target here: the figures are what they are, to be moved by later work.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from figures import add_figures_argument, record
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.outputs import LLMResult
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.archival import SqliteVecStore, default_index_config
from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.models import ModelUnavailableError
from langgraph_memgpt.nodes.reason import TEXT_CALLS_KEY
from langgraph_memgpt.testing import looks_like_call_json

MODELS = ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b")
USER = "bench-user"


@dataclass(frozen=True)
class Fact:
    said: str
    question: str
    answers: tuple[str, ...]
    """Accepted answers (case-insensitive substrings of the reply); empty for a replaced fact."""


# (session heading, [Fact | filler question]) in the order they are sent.
FACTS_1 = [
    Fact("Hi! My name is Priya Raman.", "What is my name?", ("priya",)),
    Fact("I live in Porto, in an old flat by the river.", "", ()),  # replaced in session 2
    Fact("I work as a marine biologist.", "", ()),  # replaced in session 2
    Fact("My cat is called Mochi.", "What is my cat called?", ("mochi",)),
    Fact("My favourite drink is hibiscus tea.", "What is my favourite drink?", ("hibiscus",)),
    Fact("Please remember that I'm allergic to peanuts.", "What am I allergic to?", ("peanut",)),
    Fact(
        "My birthday is on 14 March.",
        "When is my birthday?",
        ("14 march", "march 14", "14th of march", "march 14th"),
    ),
    Fact("My sister is called Anika.", "What is my sister's name?", ("anika",)),
    Fact("Next month I'm travelling to Kyoto.", "Where am I travelling next month?", ("kyoto",)),
    Fact("In my free time I play the cello.", "Which instrument do I play?", ("cello",)),
]
FACTS_2 = [
    Fact("I drive a green Volvo.", "What car do I drive?", ("volvo",)),
    Fact(
        "My favourite football club is Boavista.",
        "Which football club do I support?",
        ("boavista",),
    ),
    Fact(
        "Our wedding anniversary is on 2 June.",
        "When is my wedding anniversary?",
        ("2 june", "june 2", "2nd of june", "june 2nd"),
    ),
    Fact("My favourite book is Dune.", "What is my favourite book?", ("dune",)),
    Fact(
        "Big news: I changed jobs, I'm now a science teacher.",
        "What is my job now?",
        ("teacher",),
    ),
    Fact(
        "I've just moved from Porto to Braga.",
        "Which city do I live in now?",
        ("braga",),
    ),
]
FACTS_3 = [
    Fact(
        "I'm running a half marathon in October.",
        "What race am I running in October?",
        ("half marathon", "half-marathon"),
    ),
    Fact("My manager's name is Tomas.", "What is my manager's name?", ("tomas", "tomás")),
    Fact("I'm learning Japanese.", "Which language am I learning?", ("japanese",)),
    Fact("My flat number is 42.", "What is my flat number?", ("42",)),
    Fact("I can't stand coriander.", "Which herb can't I stand?", ("coriander", "cilantro")),
    Fact(
        "My dentist appointment is on Friday the 9th.",
        "When is my dentist appointment?",
        ("9th", "friday"),
    ),
]
FILLER = [
    "Can you explain in a few sentences how photosynthesis works?",
    "What are three tips for sleeping better?",
    "Summarise the plot of Romeo and Juliet in one paragraph.",
    "How does a refrigerator keep food cold?",
    "What is the difference between weather and climate?",
    "Give me a short recipe for a vegetable soup.",
    "Why is the sky blue? Explain it simply.",
    "What should I pack for a weekend hiking trip?",
    "How do vaccines train the immune system?",
    "Explain what inflation is to a teenager.",
]
SCENARIO: list[tuple[str, list[Fact | str]]] = [
    ("Session 1, a Monday evening.", [*FACTS_1[:5], FILLER[0], *FACTS_1[5:], FILLER[1]]),
    ("Session 2, two weeks later.", [*FACTS_2[:3], FILLER[2], *FACTS_2[3:], FILLER[3]]),
    ("Session 3, a month later.", [*FACTS_3, *FILLER[4:10]]),
    ("Session 4, the next day: questions.", []),  # one question per fact that still holds
]
QUESTIONS = [f for f in (*FACTS_1, *FACTS_2, *FACTS_3) if f.answers]


class CallMeter(BaseCallbackHandler):
    """Every model call of the run (agent and summarizer): time and the engine's counts."""

    def __init__(self) -> None:
        self.started: dict[Any, float] = {}
        self.calls: list[dict[str, float]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, **_: Any) -> None:
        self.started[run_id] = time.perf_counter()

    def on_llm_end(self, response: LLMResult, *, run_id: Any, **_: Any) -> None:
        seconds = time.perf_counter() - self.started.pop(run_id, time.perf_counter())
        for generations in response.generations:
            for generation in generations:
                message = getattr(generation, "message", None)
                usage = getattr(message, "usage_metadata", None) or {}
                details = usage.get("input_token_details") or {}
                self.calls.append(
                    {
                        "seconds": seconds,
                        "prompt": usage.get("input_tokens", 0),
                        "cached": details.get("cache_read", 0) or 0,
                        "output": usage.get("output_tokens", 0),
                    }
                )


def answer_matches(reply: str, fact: Fact) -> bool:
    lowered = reply.lower()
    return any(answer in lowered for answer in fact.answers)


@dataclass
class Result:
    model: str
    turn_seconds: list[float] = field(default_factory=list)
    facts_stored: int = 0
    answered: int = 0
    raw_json_replies: int = 0
    calls_run: int = 0
    calls_from_text: int = 0
    unreadable: int = 0
    evicted: int = 0
    failed_turns: list[str] = field(default_factory=list)
    meter: CallMeter = field(default_factory=CallMeter)
    transcript: list[dict[str, Any]] = field(default_factory=list)


def facts_in_memory(blocks: dict[str, Any], passages: list[str]) -> int:
    memory = " ".join(b["value"] for b in blocks.values()).lower() + " " + " ".join(passages)
    memory = memory.lower()
    return sum(any(a in memory for a in fact.answers) for fact in QUESTIONS)


def run_model(model: str, window: int, workdir: Path, verbose: bool) -> Result:
    result = Result(model)
    ctx = Context(model=f"llamacpp:{model}", context_window=window, user_id=USER)
    store = SqliteVecStore(workdir / f"{model}-archive.sqlite", index=dict(default_index_config()))
    config = {"configurable": {"thread_id": f"bench-{model}"}, "callbacks": [result.meter]}
    try:
        with open_sqlite_checkpointer(workdir / f"{model}-checkpoints.sqlite") as saver:
            agent = build_graph(checkpointer=saver, store=store)

            def turn(text: str, fact: Fact | None = None, asking: bool = False) -> None:
                started = time.perf_counter()
                try:
                    state = agent.invoke({"messages": [("user", text)]}, config, context=ctx)
                except ModelUnavailableError as error:  # a failed turn: count it, go on
                    result.turn_seconds.append(time.perf_counter() - started)
                    result.failed_turns.append(f"{text[:40]!r}: {error}")
                    print(f"  failed turn: {result.failed_turns[-1][:200]}", flush=True)
                    return
                result.turn_seconds.append(time.perf_counter() - started)
                queue = state["messages"]
                start = max(i for i, m in enumerate(queue) if m.type == "human")
                answers = [m for m in queue[start + 1 :] if isinstance(m, AIMessage)]
                replies = [r for r in (reply_text(m) for m in answers) if r]
                for message in answers:
                    marks = message.additional_kwargs.get(TEXT_CALLS_KEY) or {}
                    result.calls_run += len(message.tool_calls)
                    result.calls_from_text += marks.get("calls", 0)
                    result.unreadable += len(message.invalid_tool_calls)
                raw = sum(looks_like_call_json(r) for r in replies)
                result.raw_json_replies += raw
                correct = bool(asking and fact and any(answer_matches(r, fact) for r in replies))
                result.answered += correct
                result.evicted = (state.get("summary") or {}).get("message_count", 0)
                tools = [
                    m.name for m in queue[start + 1 :] if isinstance(m, ToolMessage) and m.name
                ]
                result.transcript.append(
                    {"user": text, "replies": replies, "tools": tools, "correct": correct}
                )
                if verbose:
                    mark = ("OK " if correct else "-- ") if asking else ""
                    print(
                        f"  [{result.turn_seconds[-1]:5.1f}s] {mark}{text[:50]!r} -> tools "
                        f"{tools} reply {(replies[-1] if replies else '')[:80]!r}",
                        flush=True,
                    )

            for heading, items in SCENARIO:
                if not items:  # the question session
                    blocks = agent.get_state(config).values.get("blocks") or {}
                    passages = [
                        str(i.value.get("content", ""))
                        for i in store.search(("archival", USER), limit=10_000)
                    ]
                    result.facts_stored = facts_in_memory(blocks, passages)
                    for number, fact in enumerate(QUESTIONS):
                        text = f"({heading}) {fact.question}" if number == 0 else fact.question
                        turn(text, fact, asking=True)
                    continue
                for number, item in enumerate(items):
                    text = item.said if isinstance(item, Fact) else item
                    turn(f"({heading}) {text}" if number == 0 else text)
    finally:
        store.close()
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(result: Result) -> str:
    calls = result.meter.calls
    prompt = sum(c["prompt"] for c in calls)
    cached = sum(c["cached"] for c in calls)
    attempted = result.calls_run + result.unreadable + result.raw_json_replies
    print(f"\n== {result.model}")
    print(f"facts stored (core or archival): {result.facts_stored}/{len(QUESTIONS)}")
    print(f"questions answered: {result.answered}/{len(QUESTIONS)}")
    print(
        f"tool calls: {result.calls_run} ran ({result.calls_from_text} read from text, "
        f"{result.calls_run - result.calls_from_text} native), {result.unreadable} unreadable "
        f"call texts, {result.raw_json_replies} raw-JSON replies"
    )
    print(
        f"seconds per turn: p50 {statistics.median(result.turn_seconds):.1f}, p95 "
        f"{percentile(result.turn_seconds, 0.95):.1f} ({len(result.turn_seconds)} turns); per "
        f"model call: p50 {statistics.median([c['seconds'] for c in calls]):.1f} "
        f"({len(calls)} calls)"
    )
    print(f"failed turns (the model call failed after its retries): {len(result.failed_turns)}")
    print(
        f"prompt tokens: {prompt - cached:,} processed, {cached:,} from the engine's cache "
        f"({100 * cached / max(prompt, 1):.0f}% cached); {result.evicted} messages evicted"
    )
    return (
        f"real-model {result.model}: answered {result.answered}/{len(QUESTIONS)}, raw-json "
        f"replies {result.raw_json_replies}, tool calls parsed {result.calls_run}/{attempted}, "
        f"p50 {statistics.median(result.turn_seconds):.1f} s/turn"
    )


def table_row(result: Result) -> list[Any]:
    """One model's row of the README's table."""
    calls = result.meter.calls
    prompt = sum(c["prompt"] for c in calls)
    cached = sum(c["cached"] for c in calls)
    attempted = result.calls_run + result.unreadable + result.raw_json_replies
    return [
        result.model,
        f"{result.facts_stored}/{len(QUESTIONS)}",
        f"{result.answered}/{len(QUESTIONS)}",
        result.raw_json_replies,
        f"{result.calls_run}/{attempted} ({result.calls_from_text} read from text)",
        f"{statistics.median(result.turn_seconds):.1f}",
        f"{percentile(result.turn_seconds, 0.95):.1f}",
        f"{100 * cached / max(prompt, 1):.0f}%",
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--window", type=int, default=4096)
    parser.add_argument("--out", type=Path, help="write each model's transcript (JSON) here")
    parser.add_argument("--quiet", action="store_true", help="no line per turn")
    add_figures_argument(parser)
    args = parser.parse_args(argv)
    facts_told = sum(isinstance(i, Fact) for _, items in SCENARIO for i in items)
    print(
        f"{facts_told} facts told ({facts_told - len(QUESTIONS)} later replaced), "
        f"{len(QUESTIONS)} questions, window {args.window}",
        flush=True,
    )
    lines, rows, per_call = [], [], []
    with tempfile.TemporaryDirectory(prefix="memgpt-real-model-") as folder:
        for model in args.models.split(","):
            print(f"\n-- {model}", flush=True)
            result = run_model(model, args.window, Path(folder), verbose=not args.quiet)
            lines.append(report(result))
            rows.append(table_row(result))
            seconds = [c["seconds"] for c in result.meter.calls]
            per_call.append(
                f"{model} {statistics.median(seconds):.1f} s per model call (p50), "
                f"{len(result.failed_turns)} failed turns"
            )
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / f"{model}.json").write_text(json.dumps(result.transcript, indent=1))
    print()
    for line in lines:
        print(line)
    record(
        args.figures,
        "real_model",
        summary=lines,
        columns=["model", "facts stored (core or archival)", "answered", "raw-JSON replies",
                 "tool calls run / attempted", "s/turn p50", "p95",
                 "prompt tokens from the engine's cache"],
        rows=rows,
        notes=[
            f"One thread in {len(SCENARIO)} sessions on the embedded engine at a "
            f"{args.window}-token window: {facts_told} facts told "
            f"({facts_told - len(QUESTIONS)} later replaced), then {len(QUESTIONS)} questions.",
            "; ".join(per_call) + ".",
        ],
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
