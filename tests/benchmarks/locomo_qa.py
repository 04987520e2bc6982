"""Question answering over long conversations (LoCoMo), end to end through the agent.

Each conversation of a LoCoMo-format file is recorded as a thread; then LoCoMo's questions are
asked through the full agent (the compiled graph, ChatLlamaCpp on the embedded engine, SQLite
checkpoints, the recall index with all-MiniLM-L6-v2) and the replies are scored with LoCoMo's
answer F1.

    python tests/benchmarks/locomo_qa.py ../shared/data/locomo-dev.json     # 1.5B, 100 questions
    python tests/benchmarks/locomo_qa.py PATH --model qwen2.5-coder-0.5b --questions 50 \\
        --configs window,retrieval --out /tmp/locomo_qa.json
    python tests/benchmarks/locomo_qa.py PATH --figures FILE   # records the figures (README)

Recording (no model call). Every turn of either speaker becomes a user message
("Caroline: ...", with "[shares an image: <caption>]" where it shared one), stamped with its
session's date, the first of each session opening with that date (LoCoMo's own prompts give
the model each session's date too). The thread's checkpoints hold the whole conversation
(recall memory). The queue is then cut to the latest messages that fit ``QUEUE_FILL`` of the
prompt window after the configuration's fixed sections (instructions, core memory, tool
schemas, summary) and, with retrieval, the retrieved-memory budget; the summary stands in for
the recursive one the agent would have written while evicting: the first sentence of each
evicted session's summary from the dataset (written by its authors), the latest that fit
``summary_token_cap``. This is labelled: the summarizer itself is not measured here.

Questions. ``--questions N`` picks a fixed subset (``--seed``), stratified: categories in
proportion to the file's (at least one each, adversarial included), each category's share
spread over the conversations in turn. Every question is asked on its own branch from the
recorded checkpoint (so no question sees another's answer; earlier branches are passed as
``forgotten_ids``, which recall search leaves out). The message follows LoCoMo's evaluation
prompts: "write an answer in the form of a short phrase ... exact words", a temporal
question adds the hint to use the conversation's dates, and an adversarial one offers "(a)
Not mentioned in the conversation (b) <adversarial answer>" in a seeded order.

Configurations (``--configs``), on the same recorded conversations:

- ``window``: what fits in the window only (no search tools, no automatic retrieval);
- ``tools``: MemGPT's tools (``conversation_search``), no automatic retrieval;
- ``retrieval``: automatic retrieval from recall memory, no search tools;
- ``both``: the tools and automatic retrieval.

Scoring, as LoCoMo's ``task_eval/evaluation.py`` does it (our own implementation): answers
and replies lower-cased, punctuation, commas and the words a/an/the/and removed, tokens
stemmed with NLTK's Porter stemmer, token F1; multi-hop answers split at commas (each part's
best F1 against the reply's comma-separated parts, averaged); open-domain answers cut at
the first ";"; an adversarial question scores 1 when the reply says "not mentioned" or "no
information available", else 0. Printed: F1 by category and overall per configuration,
seconds per question (p50 and mean, the whole turn), model calls per question.

Ends with exactly one line: ``locomo qa: F1 overall X (window only W) on N questions``, X the
best configuration's (named on the line before) and W the ``window`` configuration's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import string
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
from langgraph_memgpt.graph.builder import memory_tools
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.graph.state import Summary, utc_now
from langgraph_memgpt.memory.recall import search_conversation
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.tokens import count_text, counter
from nltk.stem import PorterStemmer

sys.path.insert(0, str(Path(__file__).parent))
from figures import add_figures_argument
from figures import record as record_figures
from locomo_recall import session_time
from prompt_cache import start_engine

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
CONFIGS: dict[str, tuple[bool, str]] = {
    "window": (False, "off"),
    "tools": (True, "off"),
    "retrieval": (False, "recall"),
    "both": (True, "recall"),
}
"""name -> (search tools offered, Context.retrieval)."""
LABELS = {
    "window": "window only",
    "tools": "MemGPT tools only",
    "retrieval": "automatic retrieval",
    "both": "tools + automatic retrieval",
}
"""How the README's table names each configuration."""
WINDOW = 4096
MAX_OUTPUT_TOKENS = 128
MAX_STEPS = 4
QUEUE_FILL = 0.85
"""Share of the prompt window the recorded queue and fixed sections fill (the pressure alert
is marked as sent: the agent was warned in this fill cycle already)."""
QUESTION_ROOM = 120
"""Tokens left for the question itself."""
NOT_MENTIONED = "Not mentioned in the conversation"
INSTRUCTION = (
    "Based on our conversation, write an answer in the form of a short phrase for the "
    "following question. Answer with exact words from the conversation whenever possible."
)

# -- LoCoMo's answer F1 ----------------------------------------------------------------------

_stemmer = PorterStemmer()
_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    text = text.replace(",", "").lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, truth: str) -> float:
    predicted = [_stemmer.stem(w) for w in normalize_answer(prediction).split()]
    expected = [_stemmer.stem(w) for w in normalize_answer(truth).split()]
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def score(category: int, prediction: str, answer: str) -> float:
    """LoCoMo's per-category rule (task_eval/evaluation.py, eval_question_answering)."""
    if category == 5:
        said = prediction.lower()
        return float("no information available" in said or "not mentioned" in said)
    if category == 1:
        parts = [p.strip() for p in prediction.split(",")]
        truths = [t.strip() for t in answer.split(",")]
        return statistics.mean(max(token_f1(p, t) for p in parts) for t in truths)
    if category == 3:
        answer = answer.split(";")[0].strip()
    return token_f1(prediction, answer)


# -- questions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    sample_id: str
    number: int
    """Its index in the sample's qa list."""
    category: int
    question: str
    answer: str
    adversarial_answer: str | None


def stratified(data: Sequence[dict[str, Any]], size: int, seed: int) -> list[Question]:
    """A fixed subset: categories in proportion (largest remainder, at least one each), each
    category's quota taken from the conversations in turn, in a seeded order."""
    pools: dict[int, dict[str, list[Question]]] = defaultdict(lambda: defaultdict(list))
    for sample in data:
        for number, qa in enumerate(sample["qa"]):
            category = int(qa["category"])
            answer = qa.get("answer")
            if category != 5 and answer is None:
                continue
            pools[category][sample["sample_id"]].append(
                Question(
                    sample["sample_id"],
                    number,
                    category,
                    str(qa["question"]),
                    str(answer) if answer is not None else "",
                    qa.get("adversarial_answer"),
                )
            )
    counts = {c: sum(len(q) for q in by_sample.values()) for c, by_sample in pools.items()}
    total = sum(counts.values())
    size = min(size, total)
    quotas = {c: max(1, int(size * n / total)) for c, n in counts.items()}
    by_remainder = sorted(counts, key=lambda c: -(size * counts[c] / total - quotas[c]))
    for category in by_remainder[: max(0, size - sum(quotas.values()))]:
        quotas[category] += 1
    rng = random.Random(seed)
    chosen: list[Question] = []
    for category in sorted(pools):
        queues = {sid: rng.sample(qs, len(qs)) for sid, qs in sorted(pools[category].items())}
        while quotas[category] > 0 and any(queues.values()):
            for sid in sorted(queues):
                if queues[sid] and quotas[category] > 0:
                    chosen.append(queues[sid].pop())
                    quotas[category] -= 1
    order = {sample["sample_id"]: i for i, sample in enumerate(data)}
    return sorted(chosen, key=lambda q: (order[q.sample_id], q.number))


def question_text(question: Question, rng: random.Random) -> str:
    asked = question.question
    if question.category == 2:
        asked += " Use the dates of the conversation to answer with an approximate date."
    if question.category == 5:
        options = [NOT_MENTIONED, str(question.adversarial_answer)]
        rng.shuffle(options)
        asked += f" Select the correct answer: (a) {options[0]} (b) {options[1]}."
    return f"{INSTRUCTION}\n\nQuestion: {asked} Short answer:"


# -- recording ---------------------------------------------------------------------------------


def transcript(sample: dict[str, Any]) -> tuple[list[BaseMessage], dict[str, int]]:
    """Every turn as a user message in order, and each message id's session number."""
    conv = sample["conversation"]
    numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k))
    messages: list[BaseMessage] = []
    sessions: dict[str, int] = {}
    for number in numbers:
        date = conv.get(f"session_{number}_date_time", "")
        stamp = session_time(date)
        for index, turn in enumerate(conv[f"session_{number}"]):
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares an image: {turn['blip_caption']}]"
            if index == 0 and date:
                text = f"({date}) {text}"
            message = HumanMessage(
                content=text,
                name=turn["speaker"],
                id=f"{sample['sample_id']}/{turn['dia_id']}",
                additional_kwargs={"timestamp": stamp} if stamp else {},
            )
            messages.append(message)
            sessions[message.id] = number
    return messages, sessions


def stand_in_summary(sample: dict[str, Any], evicted_sessions: Sequence[int], cap: int) -> str:
    """The first sentence of each evicted session's summary (the dataset's), latest first
    until the cap, in order."""
    summaries = sample.get("session_summary") or {}
    sentences = []
    for number in evicted_sessions:
        text = str(summaries.get(f"session_{number}_summary", "")).strip()
        if text:
            sentences.append(re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0])
    kept: list[str] = []
    for sentence in reversed(sentences):
        if count_text(" ".join([sentence, *kept])) > cap - 60:  # room for the summary's header
            break
        kept.insert(0, sentence)
    return " ".join(kept)


def record(agent: Any, thread: str, messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """Write the whole conversation to ``thread`` (its checkpoints are recall memory); returns
    the config of the last checkpoint, whose queue holds the last batch."""
    config: dict[str, Any] = {"configurable": {"thread_id": thread}}
    previous: list[BaseMessage] = []
    for start in range(0, len(messages), 200):  # the whole log, in a few writes
        batch = list(messages[start : start + 200])
        removals = [RemoveMessage(id=m.id) for m in previous]
        config = agent.update_state(
            config, {"messages": [*removals, *batch]}, as_node="execute_tools"
        )
        previous = batch
    return config


def branch_for(
    agent: Any,
    recorded: dict[str, Any],
    sample: dict[str, Any],
    messages: Sequence[BaseMessage],
    sessions: dict[str, int],
    ctx: Context,
    fixed_tokens: int,
) -> dict[str, Any]:
    """A branch of the recorded thread as the agent would hold it with this configuration's
    fixed sections: the latest messages that fit, the rest evicted into the stand-in summary.
    Returns the config of the checkpoint every question of the configuration branches from."""
    room = int(QUEUE_FILL * ctx.prompt_window) - fixed_tokens - QUESTION_ROOM
    keep: list[BaseMessage] = []
    used = 0
    for message in reversed(messages):
        used += counter.message(message)
        if used > room:
            break
        keep.insert(0, message)
    evicted = messages[: len(messages) - len(keep)]
    evicted_sessions = sorted({sessions[m.id] for m in evicted})
    summary = Summary(
        text=stand_in_summary(sample, evicted_sessions, ctx.summary_token_cap),
        message_count=len(evicted),
        updated_at=utc_now(),
    )
    queue = agent.get_state(recorded).values.get("messages") or []
    update = {
        "messages": [*(RemoveMessage(id=m.id) for m in queue), *keep],
        "summary": summary,
        "pressure_warned": True,
        # Made here, not on each question's branch: their times would differ, and so would
        # the memory note every question sends (the engine's cache would never hold it).
        "blocks": AgentSpec().missing_blocks(ctx, {}),
    }
    return agent.update_state(recorded, update, as_node="execute_tools")


def fixed_section_tokens(ctx: Context, search_tools: bool) -> int:
    """Instructions, core memory and tool schemas, a summary at its cap, and the retrieval
    budget where retrieval is on: what the queue must leave room for."""
    agent = AgentSpec(tools=memory_tools(search_tools))
    state = {"messages": [], "blocks": agent.missing_blocks(ctx, {}), "summary": None}
    _, budget = agent.assemble(state, None, ctx)
    retrieval = ctx.retrieval_token_cap if ctx.retrieval != "off" else 0
    return budget["estimate"] + ctx.summary_token_cap + retrieval


# -- running -----------------------------------------------------------------------------------


class CallCounter(BaseCallbackHandler):
    def __init__(self) -> None:
        self.calls = 0

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1


@dataclass
class Answered:
    config: str
    question: Question
    asked: str
    reply: str
    f1: float
    seconds: float
    calls: int
    retrieved: list[str] = field(default_factory=list)
    error: str | None = None


def context_for(name: str, model: str) -> Context:
    return Context(
        model=f"llamacpp:{model}",
        context_window=WINDOW,
        max_output_tokens=MAX_OUTPUT_TOKENS,
        max_steps=MAX_STEPS,
        retrieval=CONFIGS[name][1],
        user_id="locomo",
    )


def ask(
    agent: Any,
    base: dict[str, Any],
    ctx: Context,
    name: str,
    question: Question,
    asked: str,
    forgotten: list[str],
) -> Answered:
    """One question on its own branch of ``base``; its messages join ``forgotten``."""
    message = HumanMessage(content=asked, id=f"q{question.number}-{name}")
    meter = CallCounter()
    started = time.perf_counter()
    error = None
    try:
        state = agent.invoke(
            {"messages": [message], "forgotten_ids": list(forgotten)},
            {**base, "callbacks": [meter]},
            context=ctx,
        )
    except Exception as failure:  # a failed question scores 0; the run goes on
        error = f"{type(failure).__name__}: {failure}"[:300]
        state = {}
    seconds = time.perf_counter() - started
    queue = list(state.get("messages") or [])
    after = queue[next((i for i, m in enumerate(queue) if m.id == message.id), len(queue)) :]
    forgotten.extend(m.id for m in after if m.id)
    replies = [
        text for m in after if isinstance(m, AIMessage) and (text := reply_text(m)) is not None
    ]
    reply = replies[-1] if replies else ""
    retrieved = state.get("retrieved") or {}
    return Answered(
        config=name,
        question=question,
        asked=asked,
        reply=reply,
        f1=score(question.category, reply, question.answer),
        seconds=seconds,
        calls=meter.calls,
        retrieved=[h["id"] for h in retrieved.get("hits") or []],
        error=error,
    )


def run(
    names: Sequence[str],
    data: Sequence[dict[str, Any]],
    questions: Sequence[Question],
    model: str,
    workdir: Path,
    seed: int,
    verbose: bool,
) -> dict[str, list[Answered]]:
    """Each conversation recorded once as a thread; each configuration asks its questions on
    branches of it (one recall index per conversation, built before any clock runs)."""
    results: dict[str, list[Answered]] = {name: [] for name in names}
    with open_sqlite_checkpointer(workdir / "locomo-qa.sqlite") as saver:
        agents = {
            name: build_graph(checkpointer=saver, search_tools=CONFIGS[name][0]) for name in names
        }
        for sample in data:
            mine = [q for q in questions if q.sample_id == sample["sample_id"]]
            if not mine:
                continue
            thread = sample["sample_id"]
            messages, sessions = transcript(sample)
            recorded = record(agents[names[0]], thread, messages)
            search_conversation(saver, thread, "warm up")  # indexes the thread
            forgotten: list[str] = []
            for name in names:
                ctx = context_for(name, model)
                fixed = fixed_section_tokens(ctx, CONFIGS[name][0])
                base = branch_for(agents[name], recorded, sample, messages, sessions, ctx, fixed)
                rng = random.Random(f"{seed}/{thread}")  # the same option order in every config
                for question in mine:
                    asked = question_text(question, rng)
                    answered = ask(agents[name], base, ctx, name, question, asked, forgotten)
                    results[name].append(answered)
                    if verbose:
                        print(
                            f"  [{name}] {question.sample_id} q{question.number} "
                            f"{CATEGORIES[question.category]}: F1 {answered.f1:.2f} "
                            f"{answered.seconds:.1f} s {answered.calls} calls | "
                            f"{answered.reply[:80]!r} (answer "
                            f"{question.answer or question.adversarial_answer!r})"
                            + (f" ERROR {answered.error}" if answered.error else ""),
                            flush=True,
                        )
    return results


def report(name: str, answered: Sequence[Answered]) -> float:
    by_category: dict[int, list[float]] = defaultdict(list)
    for a in answered:
        by_category[a.question.category].append(a.f1)
    overall = 100 * statistics.mean(a.f1 for a in answered)
    seconds = [a.seconds for a in answered]
    cells = ", ".join(
        f"{CATEGORIES[c]} {100 * statistics.mean(v):.1f} ({len(v)})"
        for c, v in sorted(by_category.items())
    )
    failed = sum(a.error is not None for a in answered)
    print(
        f"{name}: F1 overall {overall:.1f} on {len(answered)} questions; {cells}; seconds per "
        f"question p50 {statistics.median(seconds):.1f}, mean {statistics.mean(seconds):.1f}; "
        f"model calls per question {statistics.mean(a.calls for a in answered):.2f}"
        + (f"; failed {failed}" if failed else ""),
        flush=True,
    )
    return overall


F1_COLUMNS = ["F1 overall", *CATEGORIES.values(), "s/question p50"]


def f1_cells(answered: Sequence[Answered]) -> list[Any]:
    """F1 overall and by category (blank for a category not asked), and seconds per question:
    a row of the README's table."""
    by_category: dict[int, list[float]] = defaultdict(list)
    for a in answered:
        by_category[a.question.category].append(a.f1)
    return [
        f"{100 * statistics.mean(a.f1 for a in answered):.1f}",
        *(
            f"{100 * statistics.mean(by_category[c]):.1f}" if by_category[c] else None
            for c in CATEGORIES
        ),
        f"{statistics.median(a.seconds for a in answered):.1f}",
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a LoCoMo-format JSON file")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="packaged model or .gguf")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write every question and reply (JSON) here")
    parser.add_argument("--quiet", action="store_true", help="no line per question")
    add_figures_argument(parser)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    for name in names:
        if name not in CONFIGS:
            parser.error(f"unknown configuration {name!r}; known: {', '.join(CONFIGS)}")
    if "window" not in names:
        names.insert(0, "window")  # the last line compares against it
    data = json.loads(args.path.read_text())
    questions = stratified(data, args.questions, args.seed)
    spread = Counter(CATEGORIES[q.category] for q in questions)
    print(
        f"{len(questions)} questions from {len({q.sample_id for q in questions})} "
        f"conversations ({', '.join(f'{k} {v}' for k, v in sorted(spread.items()))}), model "
        f"{args.model}, window {WINDOW}, configurations {', '.join(names)}",
        flush=True,
    )
    start_engine(args.model, WINDOW, MAX_OUTPUT_TOKENS)
    with tempfile.TemporaryDirectory(prefix="locomo-qa-") as tmp:
        results = run(names, data, questions, args.model, Path(tmp), args.seed, not args.quiet)
    print()
    overall = {name: report(name, results[name]) for name in names}
    if args.out:
        rows = [
            {**a.__dict__, "question": a.question.__dict__} for name in names for a in results[name]
        ]
        args.out.write_text(json.dumps({"model": args.model, "answers": rows}, indent=1))
    print(
        "\nLoCoMo paper (Table 2, F1 overall): Mistral-7B-Instruct 8K 18.7, gpt-3.5-turbo 4K "
        "23.9, gpt-3.5-turbo with RAG over dialogs (top 10) 39.7"
    )
    for name in names:
        print(f"  {name}: {overall[name]:.1f}")
    best = max(names, key=lambda n: overall[n])
    print(f"best configuration: {best}")
    line = (
        f"locomo qa: F1 overall {overall[best]:.1f} (window only {overall['window']:.1f}) on "
        f"{len(questions)} questions"
    )
    print(line)
    record_figures(
        args.figures,
        "locomo_qa",
        summary=[line],
        columns=["model, questions", "configuration", *F1_COLUMNS],
        rows=[
            [f"{args.model}, {len(questions)}", LABELS[name], *f1_cells(results[name])]
            for name in names
        ],
        notes=[
            f"{len(questions)} questions (seed {args.seed}) from "
            f"{len({q.sample_id for q in questions})} conversations of {args.path.name} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(spread.items()))}), asked through the "
            f"agent on the embedded engine with {args.model} at a {WINDOW}-token window; "
            "scored with LoCoMo's answer F1."
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
