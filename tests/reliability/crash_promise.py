"""Crash promise: SIGKILL a process mid-turn 24 times; a new process resumes; nothing is lost.

A child (``crash_child.py``) runs agent turns on the package's SQLite checkpointer and
sqlite-vec archive. Four kills are planted, every run, where a resumed or re-sent turn once
went wrong (``PLANTED``); a seeded RNG picks 20 more, four in each category: inside the chat
model call, inside a memory tool (after it computed its result, before the step's checkpoint),
inside the summarizer's call, inside the archive's write transaction, and at a random moment.
The child reports ``AT <category>`` when it reaches its point and the parent SIGKILLs it there
(random kills land after a random delay). Each time a fresh process opens the files, resumes
the thread (``invoke(None)`` when the latest checkpoint has pending tasks, else it re-sends the
turn whose acknowledgement never came, with the same message id) and runs on. Checkpoint
durability alternates between LangGraph's default ``"async"`` (the Python API, ``langgraph
dev``) and ``"exit"`` (the terminal chat).

Then, reading the files with the package's own readers:

- every acknowledged turn (its ``invoke`` returned before the kill) is in recall memory: the
  user message and the reply the child saw (``messages_lost`` counts the missing ones);
- every passage whose ``archival_memory_insert`` returned is in the archive, with its vector;
  no passage row without a vector (a torn insert);
- in EVERY checkpoint the core memory is a whole state: the ``human`` block holds exactly the
  fact of some turn m and the ``persona`` counter says m (turn k's two edits are one model
  message, so a checkpoint with one but not the other is a half-applied step), and m never
  goes back or skips a turn from one checkpoint to the next;
- no orphan ToolMessage and no AI tool call without its result, in the recall log and in the
  final queue; no tool error (a failed replace would mean a counter out of step); no turn
  answered twice; no passage stored twice;
- queue invariants: unique ids, no leading ToolMessage, evicted + queued = all messages;
- every interrupted turn completed after the restart, and no turn was left recorded but
  unanswered with nothing pending (which a torn input write would leave).

Child start-up (torch + all-MiniLM-L6-v2) is several seconds; the parent keeps two children
warmed up ahead (imports and model loaded, thread files NOT opened) so that the 25 start-ups
overlap. ``CRASH_EMBEDDINGS=hash`` swaps MiniLM for a hash embedding for quick local runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outcome import Outcome

HERE = Path(__file__).resolve().parent
CHILD = HERE / "crash_child.py"
CATEGORIES = ("model", "tool", "summarize", "insert", "random")
PLANTED = (
    ("first_step", "async"),
    ("inserted", "async"),
    ("inserted", "exit"),
    ("save", "exit"),
)
"""Kills every run makes, at the points where a resumed or re-sent turn once went wrong:

- ``first_step`` (async): the turn's input checkpoint is saved, its input still only a write
  that ``get_state`` does not show. The next process resumes it, answering turn k while it
  believes it resumed turn k-1, then sends turn k again (same message id): it was answered
  twice, its block edits refused the second time and its passage stored twice. (Under
  ``exit`` there is no input checkpoint: nothing of a turn is saved before its end.)
- ``inserted`` (async and exit): the passage is stored, the step that stored it is not. With
  ``exit`` the turn is sent again with new tool call ids, which once stored the passage twice.
- ``save`` (exit): inside the turn's one checkpoint write, after its messages were stored as
  writes on the checkpoint it started from. Those writes belong to no state; recall memory
  once read them, showing the turn twice.
"""
LABELS = {
    "planted": "planted (first step async, inserted async/exit, save exit)",
    "model": "in model call",
    "tool": "in tool",
    "summarize": "in summarization",
    "insert": "in archival insert",
    "random": "at random",
}
KILLS_PER_CATEGORY = 4
THREAD = "crash"
WARM_AHEAD = 2
TAKE_OVER = ("RESUME", "SEND", "ACK", "UNANSWERED")
"""Lines showing a restarted process continued the thread."""
POINT_DEADLINE = 120.0
"""Seconds a child may take to reach its kill point (or finish); generous for a loaded CI."""


class Child:
    """One child process and the lines it printed (read by a thread, so no read blocks)."""

    def __init__(self, workdir: Path, index: int, embeddings: str) -> None:
        self.index = index
        self.started = time.monotonic()
        self.stderr_path = workdir / f"child-{index:02d}.stderr"
        self.lines: list[str] = []
        self.events: queue.Queue[str | None] = queue.Queue()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
        with open(self.stderr_path, "w") as stderr:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(CHILD),
                    "--workdir",
                    str(workdir),
                    "--thread",
                    THREAD,
                    "--embeddings",
                    embeddings,
                    "--wait-go",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.endswith("\n"):  # a line cut by the kill is not a statement
                self.lines.append(line.rstrip("\n"))
                self.events.put(line.rstrip("\n"))
        self.events.put(None)

    def wait_for(self, prefix: str, deadline: float) -> str | None:
        """The first line starting with ``prefix`` (None if the child ended or time ran out)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self.events.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:
                return None
            if line.startswith(prefix):
                return line

    def go(self, **settings: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"GO {json.dumps(settings)}\n")
        self.proc.stdin.flush()

    def sigkill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 60) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.join(timeout=10)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):  # the pipe may be broken by the kill
                self.proc.stdin.close()

    def stderr_tail(self, lines: int = 6) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])


@dataclass
class Ledger:
    """What the children acknowledged, as read from their stdout."""

    acked: dict[int, str] = field(default_factory=dict)
    passages: set[str] = field(default_factory=set)
    warm_seconds: list[float] = field(default_factory=list)
    open_seconds: list[float] = field(default_factory=list)
    unanswered: list[int] = field(default_factory=list)

    def read(self, child: Child) -> tuple[int | None, list[str]]:
        """Record ``child``'s statements; return the turn in flight when it stopped and the
        kinds of restart it did (``RESUME``: continued mid-turn)."""
        in_flight: int | None = None
        kinds = []
        for line in child.lines:
            word, _, rest = line.partition(" ")
            if word == "WARM":
                self.warm_seconds.append(float(rest))
            elif word == "READY":
                self.open_seconds.append(float(rest))
            elif word in ("SEND", "RESUME"):
                in_flight = int(rest)
                kinds.append(word)
            elif word == "ACK":
                number, _, reply = rest.partition(" ")
                self.acked[int(number)] = json.loads(reply)
                if in_flight == int(number):
                    in_flight = None
            elif word == "UNANSWERED":
                self.unanswered.append(int(rest))
            elif word == "PASSAGE":
                _, _, content = rest.partition(" ")
                self.passages.add(json.loads(content))
        return in_flight, kinds


def check(workdir: Path, *, seed: int = 7) -> Outcome:
    outcome = Outcome("crash")
    workdir.mkdir(parents=True, exist_ok=True)
    embeddings = os.environ.get("CRASH_EMBEDDINGS", "minilm")
    rng = random.Random(seed)
    seeded = [c for c in CATEGORIES for _ in range(KILLS_PER_CATEGORY)]
    rng.shuffle(seeded)
    drawn: list[tuple[str, str, str | None]] = []
    for category in seeded:
        durability = rng.choice(("async", "exit"))
        spec = None if category == "random" else f"{category}:{rng.randint(1, 3)}"
        drawn.append((category, durability, spec))
    # One planted kill ahead of every fifth seeded one.
    plan: list[tuple[str, str, str | None]] = []
    for number, (category, durability) in enumerate(PLANTED):
        plan.append(("planted", durability, f"{category}:1"))
        plan += drawn[number * 5 : (number + 1) * 5]
    ledger = Ledger()
    warming: list[Child] = []
    started = time.monotonic()
    next_index = 0

    def take() -> Child:
        nonlocal next_index
        while len(warming) < WARM_AHEAD + 1:
            warming.append(Child(workdir, next_index, embeddings))
            next_index += 1
        child = warming.pop(0)
        if child.wait_for("WARM", time.monotonic() + POINT_DEADLINE) is None:
            outcome.expect(False, f"child {child.index} did not start: {child.stderr_tail()}")
        return child

    kills: Counter[str] = Counter()
    durabilities: Counter[str] = Counter()
    interrupted: list[int] = []  # turns in flight at a kill
    restarts: Counter[str] = Counter()  # how each process took over: RESUME or SEND
    resumed = 0
    try:
        for number, (category, durability, kill) in enumerate(plan, start=1):
            child = take()
            durabilities[durability] += 1
            child.go(kill=kill, durability=durability, turns=0)
            ready = child.wait_for("READY", time.monotonic() + POINT_DEADLINE)
            if ready is None:
                outcome.expect(False, f"kill {number}: child did not open: {child.stderr_tail()}")
                child.sigkill()
                continue
            if category == "random":
                # Turns take tens of ms: a delay up to 1.5 s lands anywhere in a turn.
                time.sleep(rng.uniform(0.02, 1.5))
                reached = child.proc.poll() is None
            else:
                point = (kill or "").split(":")[0]
                reached = child.wait_for(f"AT {point}", time.monotonic() + POINT_DEADLINE)
            outcome.expect(
                bool(reached),
                f"kill {number}: child never reached {kill or 'the random delay'} "
                f"({child.stderr_tail()})",
            )
            child.sigkill()
            outcome.expect(
                child.proc.returncode == -signal.SIGKILL,
                f"kill {number}: child ended with {child.proc.returncode}, not SIGKILL: "
                f"{child.stderr_tail()}",
            )
            in_flight, kinds = ledger.read(child)
            with open(workdir / "crash-log.txt", "a") as log:
                log.write(
                    f"kill {number}: {kill or 'random'} durability={durability} "
                    f"reached={bool(reached)} lines={child.lines[2:][:3]}...{child.lines[-3:]}\n"
                )
            if number > 1:
                restarts.update(kinds[:1])
                # This process opened the thread after the previous kill and took it over
                # (it may itself be killed before finishing the turn: a later one must).
                took_over = any(line.split(" ")[0] in TAKE_OVER for line in child.lines)
                resumed += outcome.expect(
                    took_over, f"kill {number}: the restarted process did not resume the thread"
                )
            if in_flight is not None:
                interrupted.append(in_flight)
            kills[category] += 1

        # The last restart: resume and run a few more turns, then exit cleanly.
        final = take()
        final.go(kill=None, durability="async", turns=3)
        done = final.wait_for("DONE", time.monotonic() + POINT_DEADLINE)
        final.finish()
        outcome.expect(
            done is not None and final.proc.returncode == 0,
            f"the final process did not finish ({final.proc.returncode}): {final.stderr_tail()}",
        )
        _, final_kinds = ledger.read(final)
        restarts.update(final_kinds[:1])
        resumed += any(line.split(" ")[0] in TAKE_OVER for line in final.lines)
    finally:
        for child in warming:
            child.sigkill()
    elapsed = time.monotonic() - started

    found = verify_files(workdir, ledger, outcome)
    retried = sum(1 for turn in interrupted if turn in ledger.acked)
    for turn in sorted(set(interrupted) - set(ledger.acked)):
        outcome.expect(False, f"turn {turn} was interrupted and never completed afterwards")
    for turn in ledger.unanswered:
        outcome.expect(False, f"turn {turn} was recorded with no answer and nothing pending")
    warm = sorted(ledger.warm_seconds)
    median_warm = warm[len(warm) // 2] if warm else 0.0
    outcome.figure = (
        f"{sum(kills.values())} SIGKILLs ("
        + ", ".join(f"{kills[c]} {LABELS[c]}" for c in ("planted", *CATEGORIES))
        + f"; durability async {durabilities['async']}/exit {durabilities['exit']}), "
        f"{resumed} resumed ({restarts['RESUME']} mid-turn, {restarts['SEND']} by re-sending), "
        f"{retried}/{len(interrupted)} interrupted turns completed on retry, "
        f"{found['turns']} acknowledged turns and {found['passages']} acknowledged passages "
        f"found ({found['messages_lost']} lost), {found['orphans']} orphan tool results, "
        f"{found['unanswered']} tool calls without result, {found['checkpoints']} checkpoints "
        f"with whole core memory, {found['duplicates']} passages stored twice by a retried "
        f"insert, {found['answered_twice']} turns answered twice, {found['tool_errors']} tool "
        f"errors; child start-up {median_warm:.1f} s median ({embeddings}), {elapsed:.0f} s"
    )
    return outcome


def verify_files(workdir: Path, ledger: Ledger, outcome: Outcome) -> dict[str, int]:
    """Check the thread and the archive on disk against what the children acknowledged."""
    from crash_child import THREAD_USER, TURN_TEXT, fact, persona, turn_message
    from langchain_core.messages import AIMessage, ToolMessage
    from langgraph_memgpt import build_graph
    from langgraph_memgpt.archival.store import SqliteVecStore
    from langgraph_memgpt.checkpoints.history import read_log
    from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
    from langgraph_memgpt.steps import drive
    from langgraph_memgpt.testing import ScriptedChatModel

    config = {"configurable": {"thread_id": THREAD}}
    figures = dict.fromkeys(
        (
            "turns",
            "passages",
            "messages_lost",
            "orphans",
            "unanswered",
            "checkpoints",
            "duplicates",
            "answered_twice",
            "tool_errors",
        ),
        0,
    )
    with open_sqlite_checkpointer(workdir / "checkpoints.sqlite") as saver:
        agent = build_graph(ScriptedChatModel(), checkpointer=saver)
        state = agent.get_state(config)
        log = drive(read_log(saver, THREAD, {})).messages
        checkpoints = list(saver.list(config))

    # 1. Acknowledged turns are in recall memory, with the reply the child was given.
    humans = {str(m.content) for m in log if m.type == "human"}
    all_replies = [
        str(call["args"].get("message"))
        for m in log
        if isinstance(m, AIMessage)
        for call in m.tool_calls
        if call["name"] == "send_message"
    ]
    replies = set(all_replies)
    # One answer per turn: a turn answered twice is a message delivered twice and run twice.
    twice = sorted(text for text, n in Counter(all_replies).items() if n > 1)
    figures["answered_twice"] = len(twice)
    outcome.expect(not twice, f"turns answered more than once: {[t[:12] for t in twice[:5]]}")
    for turn, reply in sorted(ledger.acked.items()):
        ok = outcome.expect(
            turn_message(turn) in humans, f"acknowledged turn {turn}: user message missing"
        )
        ok = (
            outcome.expect(reply in replies, f"acknowledged turn {turn}: reply {reply!r} missing")
            and ok
        )
        figures["turns"] += ok
        figures["messages_lost"] += not ok
    # Every turn up to the last acknowledged one was acknowledged (none skipped).
    last = max(ledger.acked, default=0)
    missing = sorted(set(range(1, last + 1)) - set(ledger.acked))
    outcome.expect(not missing, f"turns never acknowledged: {missing[:10]}")

    # 2. Tool calls and results pair up, in the whole recall log and in the final queue.
    def pairing(messages: list[Any]) -> tuple[int, int]:
        calls = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
        results = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
        return len(results - calls), len(calls - results)

    orphans, unanswered = pairing(log)
    queue_now = (state.values or {}).get("messages") or []
    queue_orphans, queue_unanswered = pairing(queue_now)
    figures["orphans"] = orphans + queue_orphans
    figures["unanswered"] = unanswered + queue_unanswered
    outcome.expect(orphans == 0, f"{orphans} ToolMessages in recall without their tool call")
    outcome.expect(unanswered == 0, f"{unanswered} tool calls in recall without a result")
    outcome.expect(queue_orphans == 0, f"{queue_orphans} orphan ToolMessages in the queue")
    outcome.expect(queue_unanswered == 0, f"{queue_unanswered} unanswered calls in the queue")
    errors = [
        str(m.content)[:120]
        for m in log
        if isinstance(m, ToolMessage)
        and (m.status == "error" or str(m.content).startswith("Error"))
    ]
    figures["tool_errors"] = len(errors)
    outcome.expect(not errors, f"tool errors in the thread: {errors[:3]}")

    # 3. Queue invariants and a finished thread.
    outcome.expect(not state.next, f"the thread is left mid-turn (next: {state.next})")
    ids = [m.id for m in queue_now]
    outcome.expect(len(ids) == len(set(ids)), "duplicate message ids in the queue")
    outcome.expect(
        not queue_now or not isinstance(queue_now[0], ToolMessage), "the queue starts with a tool"
    )
    summary = (state.values or {}).get("summary") or {}
    evicted = summary.get("message_count", 0)
    outcome.expect(
        evicted + len(queue_now) == len(log),
        f"evicted {evicted} + queued {len(queue_now)} != {len(log)} messages in recall",
    )
    outcome.expect(evicted > 0, "no eviction/summarization happened")

    # 4. Core memory is whole in every checkpoint: the fact and the counter of the same turn
    # (one model message edits both), and the turn never goes back or skips, oldest first.
    previous_turn = 0
    for checkpoint in sorted(checkpoints, key=lambda c: c.checkpoint["id"]):
        blocks = checkpoint.checkpoint["channel_values"].get("blocks")
        if not blocks:
            continue
        match = re.fullmatch(r"fact T(\d+): .*", blocks["human"]["value"])
        turn = int(match.group(1)) if match else -1
        whole = (
            turn >= 0
            and blocks["human"]["value"] == fact(turn)
            and blocks["persona"]["value"] == persona(turn)
            and previous_turn <= turn <= previous_turn + 1
        )
        previous_turn = max(turn, previous_turn)
        figures["checkpoints"] += whole
        outcome.expect(
            whole,
            f"checkpoint {checkpoint.checkpoint['id']}: core memory not whole: "
            f"human={blocks['human']['value']!r} persona={blocks['persona']['value']!r}",
        )
    final_blocks = (state.values or {}).get("blocks") or {}
    outcome.expect(
        final_blocks.get("human", {}).get("value") == fact(last)
        and final_blocks.get("persona", {}).get("value") == persona(last),
        f"final core memory is not turn {last}'s: {final_blocks.get('human', {}).get('value')!r}",
    )

    # 5. Acknowledged passages are in the archive, each with its vector.
    store = SqliteVecStore(workdir / "archive.sqlite")
    try:
        items = store.search(("archival", THREAD_USER), limit=100_000)
        contents = Counter(str(i.value.get("content")) for i in items)
        for passage in sorted(ledger.passages):
            ok = outcome.expect(passage in contents, f"acknowledged passage missing: {passage!r}")
            figures["passages"] += ok
            figures["messages_lost"] += not ok
        figures["duplicates"] = sum(n - 1 for n in contents.values())
        doubled = sorted(c[:14] for c, n in contents.items() if n > 1)
        outcome.expect(not doubled, f"passages stored twice: {doubled[:5]}")
        torn = store.conn.execute(
            "SELECT count(*) FROM items i WHERE NOT EXISTS "
            "(SELECT 1 FROM vectors v WHERE v.item_id = i.id)"
        ).fetchone()[0]
        outcome.expect(torn == 0, f"{torn} archive rows without their vector (torn insert)")
        vectors = store.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        bits = store.conn.execute("SELECT count(*) FROM vec_index").fetchone()[0]
        outcome.expect(vectors == bits, f"{vectors} vectors but {bits} vec_index rows")
        stray = [c for c in contents if not re.match(r"passage T\d+: ", c)]
        outcome.expect(not stray, f"unexpected archive content: {stray[:3]}")
    finally:
        store.close()
    # The turn text is the recall key; make sure the child and this check agree on it.
    outcome.expect(TURN_TEXT.format(k=1) == "turn 1: ", "turn marker changed")
    outcome.messages_lost = figures["messages_lost"]
    return figures


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="memgpt-crash-") as folder:
        result = check(Path(folder))
    print(result.explain())
    sys.exit(0 if result.kept else 1)
