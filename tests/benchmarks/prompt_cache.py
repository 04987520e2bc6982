"""How much of each prompt the embedded engine serves from its KV cache, per prompt layout.

A local engine keeps the previous prompt in its KV cache and processes a new prompt only from
the first token that differs. ``Context.prompt_layout`` decides how much stays the same from one
model call to the next: "cached" (a prefix that stays stable between evictions) or "classic"
(MemGPT's original: core memory and changing metadata in the system message, so a core-memory
edit or new metadata makes the engine re-read nearly the whole prompt). This runs the SAME
conversation once per layout, in one process, through the compiled graph on the embedded
llama.cpp engine (one engine process shared by the layouts), each layout in its own thread with
its own SQLite checkpoint file, recall index and sqlite-vec archive (all-MiniLM-L6-v2), and
reads llama-server's own counters for every model call (agent and summarizer):
``usage.prompt_tokens`` and ``usage.prompt_tokens_details.cached_tokens``, which LangChain
reports as ``usage_metadata["input_tokens"]`` and ``["input_token_details"]["cache_read"]``.

    python tests/benchmarks/prompt_cache.py                    # 300 turns, qwen2.5-coder-1.5b, 8K
    python tests/benchmarks/prompt_cache.py --model smollm2-135m --turns 12 --window 4096
    python tests/benchmarks/prompt_cache.py --model qwen2.5-coder-0.5b --turns 300 \\
        --previous-turns 40 --quiet --out /tmp/prompt_cache.json     # the README's run

``--figures FILE`` records the last line and a table (one row per layout) for the README.

The conversation is real text: the turns of one LoCoMo conversation (``--data``, default
``/work/shared/data/locomo-dev.json``; ``--conversation``, default its first, conv-26), session
after session, each turn of either speaker sent as a user message prefixed with the speaker's
name ("Caroline: ...", with "[shares a photo: <caption>]" where the turn shared an image); the
first ``--turns`` of them. Turns are kept short with two Context fields: ``max_steps=3`` (at
most three chained model calls per turn) and ``max_output_tokens=128`` (the answer's limit,
also the summarizer's, and the reserve kept free in the window). The defaults (300 turns x 2
layouts, a 1.5B model on 2 cores) take hours; ``--layouts cached`` runs one layout only, and
``--previous-turns N`` runs the classic layout on the first N turns only (it re-processes most
of its prompt on every call). Then a line compares both layouts over those N turns, and the
last line takes each layout's whole run; the classic layout's prompts are then shorter than
the cached layout's late in its run, which favours the classic layout's figures.

Printed per layout:

- model calls, prompt tokens in all, tokens served from the engine's cache, cached share
  (cached / prompt tokens), tokens processed per call (mean and p50); the same for the agent's
  calls alone when the summarizer also ran;
- seconds per model call p50/p95 (wall clock of each call, from the client) and per turn p50;
- evictions (turns after which the summary's ``message_count`` changed, and the messages
  evicted), core-memory edits (core_memory_append/replace, memory_insert, memory_rethink calls
  that ran; those that returned an error counted apart), failed turns (an exception out of the
  graph, e.g. a model call that still failed after its retries; the run goes on).

It ends with exactly one line (X, A for "cached"; Y, B for "classic"):
``prompt cache: X% of prompt tokens cached (previous layout Y%), p50 per call A s (previous
layout B s)``. ``--out FILE`` writes every model call (layout, turn, graph node, seconds,
prompt/cached/output tokens) and every turn as JSON, every 10 turns and after each layout (a
stopped run keeps what it measured); a line per turn is printed unless ``--quiet``.

What the engine setup does to the figure (``engine/server.py``, llama.cpp of 2026-10):

- one slot (``--parallel 1``) and ``cache_prompt`` on (llama-server's default): each call
  reuses the longest common token prefix with the slot's previous prompt, nothing else.
  ``--cache-reuse`` is 0 (the default), so a block of tokens that moved (after an edit earlier
  in the prompt, or after eviction removed the oldest messages) is re-processed, never shifted;
- the summarizer runs on the same server and slot, with a prompt of its own that shares almost
  nothing with the agent's: it is processed nearly whole and replaces the agent's prompt in the
  slot. llama-server's host-memory prompt cache (``--cache-ram``, 8 GiB by default, silent in
  its log) keeps the replaced prompt and restores it for the agent's next call, whose stable
  prefix (system message and tool schemas, about 2,400 tokens with Qwen2.5's template) then
  counts as cached. The agent's calls alone are printed apart for this reason. The
  summarizer's answer is capped by ``max_output_tokens`` (128) too;
- context shift is off (the default) and ``n_keep`` is 0: the engine never shifts or
  truncates a prompt, so nothing cached is lost that way. The agent keeps prompt + answer
  inside the window itself (eviction, on its token estimate); a prompt its estimate let grow
  past the window is refused by the engine (HTTP 400, "exceeds the available context size")
  and that turn counts as failed, and an answer that reaches the window's end is cut short;
- the engine is started (model loaded) before the first layout, so no call's time includes
  it; the embedding model loads during the first turn, outside any model call;
- the first call of the second layout finds in the cache whatever its prompt shares with the
  first layout's last prompt (the system instructions' opening: up to several hundred tokens);
  after that call the previous layout does not matter.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from figures import add_figures_argument, record
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import LLMResult
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.archival import SqliteVecStore, default_index_config
from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
from langgraph_memgpt.engine.server import ChatLlamaCpp
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.models import load_chat_model

DATA = Path("/work/shared/data/locomo-dev.json")
LAYOUTS = ("cached", "classic")
CORE_EDITS = frozenset(
    {"core_memory_append", "core_memory_replace", "memory_insert", "memory_rethink"}
)
MAX_STEPS = 3
MAX_OUTPUT_TOKENS = 128
SAVE_EVERY = 10
"""``--out`` is rewritten every this many turns, and after each layout."""


def locomo_turns(path: Path, conversation: str | None) -> tuple[str, list[str]]:
    """One LoCoMo conversation's turns in order, each as "<speaker>: <text>"."""
    samples = json.loads(path.read_text())
    sample = next(
        (s for s in samples if conversation in (None, s["sample_id"])),
        None,
    )
    if sample is None:
        known = ", ".join(s["sample_id"] for s in samples)
        raise SystemExit(f"no conversation {conversation!r} in {path} (it has {known})")
    talk = sample["conversation"]
    sessions = sorted(
        (int(m.group(1)), value)
        for key, value in talk.items()
        if (m := re.fullmatch(r"session_(\d+)", key)) and isinstance(value, list)
    )
    turns = []
    for _, session in sessions:
        for turn in session:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares a photo: {turn['blip_caption']}]"
            turns.append(text)
    return sample["sample_id"], turns


class CallMeter(BaseCallbackHandler):
    """Every model call of the run: wall clock, graph node and the engine's token counts."""

    def __init__(self) -> None:
        self.started: dict[Any, tuple[float, str]] = {}
        self.calls: list[dict[str, Any]] = []
        self.layout = ""
        self.turn = 0

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: Any,
        metadata: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        node = str((metadata or {}).get("langgraph_node", ""))
        self.started[run_id] = (time.perf_counter(), node)

    def _record(self, run_id: Any, **values: Any) -> None:
        started, node = self.started.pop(run_id, (time.perf_counter(), ""))
        self.calls.append(
            {
                "layout": self.layout,
                "turn": self.turn,
                "node": node,
                "seconds": time.perf_counter() - started,
                **values,
            }
        )

    def on_llm_end(self, response: LLMResult, *, run_id: Any, **_: Any) -> None:
        usage: dict[str, Any] = {}
        for generations in response.generations:
            for generation in generations:
                message = getattr(generation, "message", None)
                usage = getattr(message, "usage_metadata", None) or usage
        details = usage.get("input_token_details") or {}
        self._record(
            run_id,
            prompt=usage.get("input_tokens", 0) or 0,
            cached=details.get("cache_read", 0) or 0,
            output=usage.get("output_tokens", 0) or 0,
            error=None,
        )

    def on_llm_error(self, error: BaseException, *, run_id: Any, **_: Any) -> None:
        message = f"{type(error).__name__}: {error}"[:300]
        self._record(run_id, prompt=0, cached=0, output=0, error=message)


@dataclass
class LayoutRun:
    layout: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    evictions: int = 0
    evicted_messages: int = 0
    core_edits: int = 0
    core_edit_errors: int = 0
    failed_turns: list[str] = field(default_factory=list)
    seconds: float = 0.0


def summary_count(state: dict[str, Any]) -> int:
    return int((state.get("summary") or {}).get("message_count", 0) or 0)


def run_layout(
    run: LayoutRun,
    model: str,
    window: int,
    texts: list[str],
    workdir: Path,
    verbose: bool,
    save: Callable[[], None] = lambda: None,
) -> None:
    """Send every text as a user turn in a new thread with its own files; count everything.

    ``run`` is filled as the turns go (``save`` is called every ``SAVE_EVERY`` turns)."""
    layout = run.layout
    meter = CallMeter()
    meter.layout = layout
    run.calls = meter.calls
    ctx = Context(
        model=f"llamacpp:{model}",
        context_window=window,
        max_steps=MAX_STEPS,
        max_output_tokens=MAX_OUTPUT_TOKENS,
        prompt_layout=layout,
        # The layouts are compared alone: retrieval's note is new text every turn in both.
        retrieval="off",
        user_id=f"bench-{layout}",
    )
    store = SqliteVecStore(workdir / f"{layout}-archive.sqlite", index=dict(default_index_config()))
    config = {"configurable": {"thread_id": f"prompt-cache-{layout}"}, "callbacks": [meter]}
    began = time.perf_counter()
    try:
        with open_sqlite_checkpointer(workdir / f"{layout}-checkpoints.sqlite") as saver:
            agent = build_graph(checkpointer=saver, store=store)
            seen: set[str] = set()
            evicted = 0
            for number, text in enumerate(texts, 1):
                meter.turn = number
                first_call = len(meter.calls)
                started = time.perf_counter()
                error = None
                try:
                    message = HumanMessage(content=text, id=str(uuid.uuid4()))
                    state = agent.invoke({"messages": [message]}, config, context=ctx)
                except Exception as failure:  # a failed turn: count it, go on
                    error = f"{type(failure).__name__}: {failure}"
                    run.failed_turns.append(f"turn {number}: {error}"[:300])
                    state = agent.get_state(config).values
                seconds = time.perf_counter() - started
                queue: list[BaseMessage] = list(state.get("messages") or [])
                new = [m for m in queue if m.id not in seen]
                seen.update(m.id for m in queue if m.id)
                tools = [m for m in new if isinstance(m, ToolMessage)]
                edits = [m for m in tools if m.name in CORE_EDITS]
                run.core_edits += sum(m.status != "error" for m in edits)
                run.core_edit_errors += sum(m.status == "error" for m in edits)
                count = summary_count(state)
                if count != evicted:
                    run.evictions += 1
                    run.evicted_messages += count - evicted
                    evicted = count
                replies = [r for m in new if isinstance(m, AIMessage) if (r := reply_text(m))]
                calls = meter.calls[first_call:]
                record = {
                    "turn": number,
                    "user": text,
                    "seconds": seconds,
                    "calls": len(calls),
                    "prompt": sum(c["prompt"] for c in calls),
                    "cached": sum(c["cached"] for c in calls),
                    "tools": [m.name for m in tools],
                    "reply": replies[-1] if replies else "",
                    "evicted_so_far": evicted,
                    "error": error,
                }
                run.turns.append(record)
                if number % SAVE_EVERY == 0:
                    save()
                if verbose:
                    outcome = f"FAILED {error[:120]!r}" if error else f"-> {record['reply'][:60]!r}"
                    print(
                        f"  [{layout} {number:3d}] {seconds:5.1f}s {len(calls)} calls, prompt "
                        f"{record['prompt']:5d} tok, cached {record['cached']:5d}, evicted "
                        f"{evicted:3d}, tools {record['tools']} {text[:40]!r} {outcome}",
                        flush=True,
                    )
    finally:
        store.close()
        run.seconds = time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def cached_share(calls: list[dict[str, Any]]) -> float:
    prompt = sum(c["prompt"] for c in calls)
    return sum(c["cached"] for c in calls) / prompt if prompt else 0.0


def p50_call(run: LayoutRun) -> float:
    return percentile([c["seconds"] for c in run.calls if not c["error"]], 0.5)


def token_line(label: str, calls: list[dict[str, Any]]) -> str:
    prompt = sum(c["prompt"] for c in calls)
    cached = sum(c["cached"] for c in calls)
    processed = [c["prompt"] - c["cached"] for c in calls]
    return (
        f"{label}: {len(calls)} calls, {prompt:,} prompt tokens, {cached:,} cached "
        f"({100 * cached_share(calls):.1f}%), processed per call: mean "
        f"{statistics.mean(processed) if processed else 0:,.0f}, p50 "
        f"{percentile(processed, 0.5):,.0f}"
    )


def report(run: LayoutRun) -> None:
    answered = [c for c in run.calls if not c["error"]]
    agent = [c for c in answered if c["node"] == "reason"]
    print(f"\n== layout {run.layout} ({len(run.turns)} turns, {run.seconds / 60:.1f} min)")
    print(token_line("all model calls", answered))
    if len(agent) != len(answered):
        print(token_line("agent calls alone", agent))
    if len(answered) != len(run.calls):
        print(f"model calls that raised (retried or failed): {len(run.calls) - len(answered)}")
    seconds = [c["seconds"] for c in answered]
    turn_seconds = [t["seconds"] for t in run.turns]
    print(
        f"seconds per model call: p50 {percentile(seconds, 0.5):.2f}, p95 "
        f"{percentile(seconds, 0.95):.2f}; per turn: p50 {percentile(turn_seconds, 0.5):.2f}"
    )
    print(
        f"evictions: {run.evictions} ({run.evicted_messages} messages evicted); core-memory "
        f"edits: {run.core_edits} ran ({run.core_edit_errors} more returned an error); failed "
        f"turns: {len(run.failed_turns)}"
    )
    for failure in run.failed_turns[:5]:
        print(f"  {failure[:200]}")


def table_row(label: str, turns: int, calls: list[dict[str, Any]]) -> list[Any]:
    """A row of the README's table: the model calls that answered, over ``turns`` turns."""
    answered = [c for c in calls if not c["error"]]
    agent = [c for c in answered if c["node"] == "reason"]
    share = f"{100 * cached_share(answered):.1f}%"
    if len(agent) != len(answered):
        share += f" (agent calls alone {100 * cached_share(agent):.1f}%)"
    seconds = [c["seconds"] for c in answered]
    return [
        label,
        turns,
        len(answered),
        sum(c["prompt"] for c in answered),
        share,
        round(percentile([c["prompt"] - c["cached"] for c in answered], 0.5)),
        f"{percentile(seconds, 0.5):.2f} / {percentile(seconds, 0.95):.2f}",
    ]


def start_engine(model: str, window: int, max_output_tokens: int) -> None:
    """Start the embedded engine (load the model) before the clock of any call runs."""
    started = time.perf_counter()
    engine = load_chat_model(
        f"llamacpp:{model}", context_window=window, max_output_tokens=max_output_tokens
    )
    if isinstance(engine, ChatLlamaCpp):
        server = engine.server()
        print(f"engine started in {time.perf_counter() - started:.1f} s, log: {server.log_path}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="packaged model or .gguf")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--window", type=int, default=8192)
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="comma-separated")
    parser.add_argument(
        "--previous-turns",
        type=int,
        help="run the previous (classic) layout on only the first N turns: it re-processes "
        "most of its prompt on every call, so a long run of it takes hours on 2 cores",
    )
    parser.add_argument("--data", type=Path, default=DATA, help="LoCoMo JSON file")
    parser.add_argument("--conversation", help="sample_id (default: the file's first)")
    parser.add_argument("--out", type=Path, help="write every model call and turn (JSON) here")
    parser.add_argument("--quiet", action="store_true", help="no line per turn")
    add_figures_argument(parser)
    args = parser.parse_args(argv)
    layouts = [layout.strip() for layout in args.layouts.split(",") if layout.strip()]
    for layout in layouts:
        if layout not in LAYOUTS:
            parser.error(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    sample_id, texts = locomo_turns(args.data, args.conversation)
    texts = texts[: args.turns]
    print(
        f"{len(texts)} turns of LoCoMo {sample_id}, model {args.model}, window {args.window}, "
        f"max_steps {MAX_STEPS}, max_output_tokens {MAX_OUTPUT_TOKENS}, layouts "
        f"{', '.join(layouts)}",
        flush=True,
    )
    start_engine(args.model, args.window, MAX_OUTPUT_TOKENS)
    runs: dict[str, LayoutRun] = {}

    def save() -> None:
        """Write what was measured so far: a long run that is stopped keeps its figures."""
        if not args.out:
            return
        settings = {
            "model": args.model,
            "window": args.window,
            "conversation": sample_id,
            "turns": len(texts),
            "previous_turns": args.previous_turns,
            "max_steps": MAX_STEPS,
            "max_output_tokens": MAX_OUTPUT_TOKENS,
        }
        payload = {
            "settings": settings,
            "calls": [c for r in runs.values() for c in r.calls],
            "turns": {name: r.turns for name, r in runs.items()},
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=1))

    with tempfile.TemporaryDirectory(prefix="memgpt-prompt-cache-") as folder:
        for layout in layouts:
            print(f"\n-- layout {layout}", flush=True)
            runs[layout] = LayoutRun(layout)
            limit = args.previous_turns if layout == "classic" else None
            run_layout(
                runs[layout],
                args.model,
                args.window,
                texts[:limit],
                Path(folder),
                verbose=not args.quiet,
                save=save,
            )
            save()
            report(runs[layout])

    def share(layout: str) -> str:
        run = runs.get(layout)
        return f"{100 * cached_share(run.calls):.0f}%" if run else "n/a"

    def p50(layout: str) -> str:
        run = runs.get(layout)
        return f"{p50_call(run):.2f} s" if run else "n/a"

    rows = [table_row(name, len(run.turns), run.calls) for name, run in runs.items()]
    if len(runs) == len(LAYOUTS) and len(runs["classic"].turns) < len(runs["cached"].turns):
        both = len(runs["classic"].turns)
        same = LayoutRun("cached")
        same.calls = [c for c in runs["cached"].calls if c["turn"] <= both]
        first = table_row(f"cached, first {both} turns", both, same.calls)
        rows.insert(list(runs).index("cached") + 1, first)
        print(
            f"\nthe previous layout ran the first {both} turns only; over those turns: cached "
            f"layout {100 * cached_share(same.calls):.1f}%, p50 per call {p50_call(same):.2f} s; "
            f"previous layout {100 * cached_share(runs['classic'].calls):.1f}%, p50 per call "
            f"{p50_call(runs['classic']):.2f} s. The line below takes each layout's whole run."
        )
    line = (
        f"prompt cache: {share('cached')} of prompt tokens cached (previous layout "
        f"{share('classic')}), p50 per call {p50('cached')} (previous layout {p50('classic')})"
    )
    print(f"\n{line}")
    record(
        args.figures,
        "prompt_cache",
        summary=[line],
        columns=["layout", "turns", "model calls", "prompt tokens", "from the engine's cache",
                 "processed per call (p50)", "s per call p50 / p95"],
        rows=rows,
        notes=[
            f"The turns of LoCoMo {sample_id}, each turn of either speaker as a user message, "
            f"through the graph on the embedded engine: model {args.model}, window "
            f"{args.window}, max_steps {MAX_STEPS}, max_output_tokens {MAX_OUTPUT_TOKENS}.",
            "; ".join(
                f"{name} layout: {run.evictions} evictions ({run.evicted_messages} messages "
                f"evicted), {run.core_edits} core-memory edits, {len(run.failed_turns)} failed "
                "turns"
                for name, run in runs.items()
            )
            + ".",
        ],
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
