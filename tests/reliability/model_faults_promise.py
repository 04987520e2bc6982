"""Promise: model faults get a bounded retry, then one clear line; the thread stays usable.

The real graph (``build_graph()`` with no model object, so ChatOllama talks NDJSON over HTTP)
runs against the Ollama double on a real SQLite checkpoint file. Six fault kinds are injected:
HTTP 500, a hang past the client timeout, a connection dropped after the first streamed chunk,
malformed tool-call JSON, an empty message and a call to a tool that does not exist. Each kind
is injected once (the fault hits one attempt, the retry recovers) and always (every attempt
fails, the user gets one clear line), on the sync and the async path: 24 injections.

After every injection a probe turn must get its reply (the thread is usable), the double must
have seen exactly the expected number of model calls (the retry is bounded), and at the end a
new process-like reopen of the checkpoint file must show every user message sent.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.checkpoints import open_async_sqlite_checkpointer, open_sqlite_checkpointer
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.nodes.execute_tools import MAX_FAILED_STEPS
from langgraph_memgpt.nodes.reason import EMPTY_REPLY
from ollama_double import Answer, OllamaDouble, send_message
from outcome import Outcome

MODEL = "qwen3:4b"
TIMEOUT = 1.0
"""MEMGPT_MODEL_TIMEOUT for the run: short, so a hang costs seconds, not minutes."""
HANG = TIMEOUT + 2.0
ATTEMPTS = 3
"""The default RetryPolicy of the reason node (graph/builder.py MODEL_RETRY)."""
UNSCRIPTED = "UNSCRIPTED MODEL CALL"


@dataclass(frozen=True)
class Fault:
    name: str
    answer: Callable[[], Answer]
    calls_when_always: int
    """Model calls a turn makes when every one of them fails."""
    transport: bool
    """True: the call itself fails (retried by the node's policy, then raised in one line).
    False: the answer is unusable (answered inside the turn, then a fallback reply)."""
    words: tuple[str, ...] = ()
    """What the final one-line message must say."""

    def script(self, mode: str, marker: str) -> list[Answer]:
        """The double's answers: the fault once then a reply, or the fault on every call."""
        if mode == "always":
            return [self.answer() for _ in range(self.calls_when_always)]
        return [self.answer(), send_message(marker)]


FAULTS = (
    Fault(
        "HTTP 500",
        lambda: Answer(status=500, error="llama runner process has terminated"),
        ATTEMPTS,
        True,
        ("HTTP 500", "llama runner", f"attempt {ATTEMPTS} of {ATTEMPTS}"),
    ),
    Fault(
        "hang",
        lambda: Answer(delay=HANG),
        ATTEMPTS,
        True,
        ("no answer", f"within {TIMEOUT:g}s", f"attempt {ATTEMPTS} of {ATTEMPTS}"),
    ),
    Fault(
        "dropped stream",
        lambda: Answer(content="Let me think about that for a while", drop_after_chunks=1),
        ATTEMPTS,
        True,
        ("dropped the connection", f"attempt {ATTEMPTS} of {ATTEMPTS}"),
    ),
    Fault(
        "malformed tool JSON",
        lambda: Answer(
            tool_calls=[{"name": "core_memory_append", "arguments": '{"label": "human", "con'}]
        ),
        MAX_FAILED_STEPS,
        False,
        (f"failed {MAX_FAILED_STEPS} times in a row", "not valid JSON"),
    ),
    Fault("empty message", lambda: Answer(), 2, False, (EMPTY_REPLY,)),
    Fault(
        "unknown tool",
        lambda: Answer(tool_calls=[{"name": "launch_rockets", "arguments": {"target": "moon"}}]),
        MAX_FAILED_STEPS,
        False,
        (f"failed {MAX_FAILED_STEPS} times in a row", "no tool 'launch_rockets'"),
    ),
)


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def replies(messages: list[Any]) -> list[str]:
    return [text for m in messages if isinstance(m, AIMessage) and (text := reply_text(m))]


class Run:
    """Counters and the checks shared by the sync and async passes."""

    def __init__(self, outcome: Outcome, double: OllamaDouble) -> None:
        self.outcome = outcome
        self.double = double
        self.sent: dict[str, list[str]] = {}
        self.recovered = self.reported = self.usable = self.injections = 0
        self.seconds: dict[str, float] = {}

    def prepare(self, script: list[Answer]) -> int:
        self.double.script = list(script)
        return len(self.double.chat_requests())

    def finish_injection(
        self,
        fault: Fault,
        mode: str,
        path: str,
        before: int,
        result: dict[str, Any] | None,
        error: BaseException | None,
        marker: str,
    ) -> None:
        label = f"{fault.name} ({mode}, {path})"
        expect = self.outcome.expect
        calls = len(self.double.chat_requests()) - before
        wanted = 2 if mode == "once" else fault.calls_when_always
        expect(calls == wanted, f"{label}: {calls} model calls, expected {wanted} (bounded retry)")
        expect(not self.double.script, f"{label}: scripted answers left over")
        said = replies(result["messages"]) if result else []
        if mode == "once":
            recovered = expect(error is None, f"{label}: the retry did not recover: {error!r}")
            if recovered and expect(marker in said, f"{label}: no reply, got {said[-1:]}"):
                self.recovered += 1
            return
        message = str(error) if fault.transport and error is not None else (said or [""])[-1]
        if fault.transport:
            expect(error is not None, f"{label}: a persistent failure did not reach the caller")
            expect(
                error is None or type(error).__name__ == "ModelCallFailedError",
                f"{label}: raised {type(error).__name__}, not ModelCallFailedError",
            )
            expect(self.double.url in message and MODEL in message, f"{label}: {message!r}")
        else:
            expect(error is None, f"{label}: the turn raised {error!r}")
        one_line = bool(message.strip()) and "\n" not in message.strip()
        complete = all(word in message for word in fault.words)
        if expect(one_line and complete, f"{label}: unclear final message {message!r}"):
            self.reported += 1

    def finish_probe(self, label: str, result: dict[str, Any] | None, error: Any, marker: str):
        ok = error is None and result is not None and marker in replies(result["messages"])
        if self.outcome.expect(ok, f"{label}: the next turn failed: {error!r}"):
            self.usable += 1


def _sync_pass(run: Run, db: Path, ctx: Context) -> None:
    thread = "faults-sync"
    config = {"configurable": {"thread_id": thread}}
    sent = run.sent.setdefault(thread, [])
    with open_sqlite_checkpointer(db) as saver:
        graph = build_graph(checkpointer=saver)
        for fault in FAULTS:
            started = time.monotonic()
            for mode in ("once", "always"):
                marker = f"recovered from {fault.name} sync"
                before = run.prepare(fault.script(mode, marker))
                text = f"turn with {fault.name} {mode} (sync)"
                sent.append(text)
                result = error = None
                try:
                    result = graph.invoke(user(text), config, context=ctx)
                except Exception as raised:
                    error = raised
                run.injections += 1
                run.finish_injection(fault, mode, "sync", before, result, error, marker)
                probe = f"probe after {fault.name} {mode} (sync)"
                run.prepare([send_message(probe)])
                sent.append(probe)
                result = error = None
                try:
                    result = graph.invoke(user(probe), config, context=ctx)
                except Exception as raised:
                    error = raised
                run.finish_probe(probe, result, error, probe)
            run.seconds[fault.name] = time.monotonic() - started


async def _async_pass(run: Run, db: Path, ctx: Context) -> None:
    thread = "faults-async"
    config = {"configurable": {"thread_id": thread}}
    sent = run.sent.setdefault(thread, [])
    async with open_async_sqlite_checkpointer(db) as saver:
        graph = build_graph(checkpointer=saver)
        for fault in FAULTS:
            started = time.monotonic()
            for mode in ("once", "always"):
                marker = f"recovered from {fault.name} async"
                before = run.prepare(fault.script(mode, marker))
                text = f"turn with {fault.name} {mode} (async)"
                sent.append(text)
                result = error = None
                try:
                    result = await graph.ainvoke(user(text), config, context=ctx)
                except Exception as raised:
                    error = raised
                run.injections += 1
                run.finish_injection(fault, mode, "async", before, result, error, marker)
                probe = f"probe after {fault.name} {mode} (async)"
                run.prepare([send_message(probe)])
                sent.append(probe)
                result = error = None
                try:
                    result = await graph.ainvoke(user(probe), config, context=ctx)
                except Exception as raised:
                    error = raised
                run.finish_probe(probe, result, error, probe)
            run.seconds[fault.name] += time.monotonic() - started


def _count_lost(run: Run, db: Path) -> int:
    """User messages sent but missing from the thread afterwards (read from a fresh saver)."""
    lost = 0
    with open_sqlite_checkpointer(db) as saver:
        graph = build_graph(checkpointer=saver)
        for thread, texts in run.sent.items():
            config = {"configurable": {"thread_id": thread}}
            seen = {
                m.content
                for snapshot in graph.get_state_history(config)
                for m in snapshot.values.get("messages", [])
                if isinstance(m, HumanMessage)
            }
            lost += sum(1 for text in texts if text not in seen)
    return lost


def check(workdir: Path) -> Outcome:
    outcome = Outcome("model faults")
    previous = os.environ.get("MEMGPT_MODEL_TIMEOUT")
    os.environ["MEMGPT_MODEL_TIMEOUT"] = str(TIMEOUT)
    db = workdir / "checkpoints.sqlite"
    double = OllamaDouble(
        models=(MODEL,), responder=lambda request: send_message(UNSCRIPTED)
    ).start()
    try:
        ctx = Context(model=f"ollama:{MODEL}", ollama_base_url=double.url, context_window=32768)
        run = Run(outcome, double)
        _sync_pass(run, db, ctx)
        asyncio.run(_async_pass(run, db, ctx))
        outcome.messages_lost = _count_lost(run, db)
    finally:
        double.stop()
        if previous is None:
            os.environ.pop("MEMGPT_MODEL_TIMEOUT", None)
        else:
            os.environ["MEMGPT_MODEL_TIMEOUT"] = previous
    calls = len(double.chat_requests())
    slowest = max(run.seconds, key=run.seconds.get) if run.seconds else "-"
    outcome.figure = (
        f"{len(FAULTS)} fault kinds x 4 injections (once/always, sync/async): "
        f"{run.recovered} retried and recovered, {run.reported} reported in one line, "
        f"thread usable after {run.usable} of {run.injections}, "
        f"{outcome.messages_lost} messages lost ({calls} model calls, timeout {TIMEOUT:g}s, "
        f"slowest kind: {slowest} {run.seconds.get(slowest, 0):.0f}s)"
    )
    outcome.expect(run.injections == 4 * len(FAULTS), f"only {run.injections} injections ran")
    return outcome
