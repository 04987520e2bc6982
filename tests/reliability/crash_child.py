"""The process the crash promise kills: runs agent turns on real SQLite files until SIGKILLed.

    python crash_child.py --workdir DIR --thread T [--kill CATEGORY:N] [--turns M]
                          [--durability async|exit] [--embeddings minilm|hash]

It opens the package's own SQLite checkpointer (``open_sqlite_checkpointer``) and sqlite-vec
archive (``SqliteVecStore``) on files in ``DIR``, compiles ``build_graph`` with a
``ScriptedChatModel`` whose answers are functions of the prompt (so a turn interrupted anywhere
is continued correctly by a fresh process), then:

1. resumes the thread: a latest checkpoint with pending tasks is continued with
   ``invoke(None)``; a finished turn is acknowledged again; otherwise the next turn is (re)sent;
2. runs turn after turn. Turn k replaces fact k-1 by fact k in the ``human`` block and the
   counter k-1 by k in the ``persona`` block in ONE model message (two calls, one step), stores a
   passage with ``archival_memory_insert``, then replies with ``send_message``.

Protocol on stdout (one flushed line each; the parent only trusts complete lines):

- ``WARM <seconds>``: imports and the embedding model loaded (with ``--wait-go``);
- ``READY <seconds>``: the checkpoint and archive files are open (seconds to open them);
- ``SEND k`` / ``RESUME k``: turn k is being sent / continued;
- ``ACK k <json reply>``: ``invoke`` for turn k returned (the turn is acknowledged);
- ``PASSAGE k <json content>``: an ``archival_memory_insert`` of turn k returned;
- ``UNANSWERED k``: turn k's user message is recorded, unanswered, with nothing pending (a torn
  write; the turn is sent again and the parent reports it);
- ``AT <category>``: the chosen kill point is reached; the process then blocks until killed;
- ``CONSOLIDATED <json report>``: with ``--consolidate``, the consolidation run finished;
- ``DONE``: the ``--turns`` were run; the process exits normally.

``--consolidate`` runs the ``consolidate`` graph on the thread instead of turns: its model is
a pure function of the prompt too (a fact and an entity per user turn in the chunk), and
its kill points are ``extract`` (inside a chunk's model call) and ``write`` (inside any store
write of archival memory, the knowledge graph or the cursor).

``--kill CATEGORY:N`` blocks at the N-th time this process reaches the point: ``model`` (inside
the chat model call), ``tool`` (inside a memory tool, after it computed its result and before
the step's checkpoint), ``inserted`` (the same, after an ``archival_memory_insert`` only: the
passage is stored, the step that stored it is not), ``summarize`` (inside the summarizer's model
call), ``insert`` (inside the archive's write transaction, after the passage row and before its
vectors and commit), ``input`` (inside the checkpointer's write of a turn's input checkpoint),
``first_step`` (inside the write of the checkpoint after it: the input is saved, as writes
that ``get_state`` does not show yet, and nothing of the turn has run), and ``save`` (inside
any checkpoint write; with ``--durability exit`` the only one of a turn is its last, made
after the turn's messages were stored as writes on the checkpoint it started from).

Each user message is sent with an id of its own (``turn-<k>``), as a client that may deliver
a message twice should: the agent answers a message it already answered only once.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()

from langchain_core.embeddings import Embeddings  # noqa: E402

# Line protocol marks, shared with crash_promise.py.
TURN_TEXT = "turn {k}: "
FACT = "fact T{k}: {words}"
COUNTER = "turns recorded: {k}"
PASSAGE = "passage T{k}: {words}"
REPLY = "reply T{k}: {words}"
PERSONA = "I am the crash-test agent. " + COUNTER.format(k=0)


def fact(k: int) -> str:
    return FACT.format(k=k, words=words(k, 4))


def persona(k: int) -> str:
    return PERSONA.replace(COUNTER.format(k=0), COUNTER.format(k=k))


THREAD_USER = "crash-user"

_WORDS = (
    "amber basil cedar delta ember fjord garnet harbor indigo juniper kestrel lagoon meadow "
    "nectar orchid pepper quartz raven saffron tundra umber violet willow xenon yarrow zephyr"
).split()


def words(k: int, n: int) -> str:
    """Deterministic filler text for turn k (the same in every process)."""
    return " ".join(_WORDS[(k * 7 + i * 3) % len(_WORDS)] for i in range(n))


def turn_message(k: int) -> str:
    # ~80 tokens a user message: with a 3,800-token window (about 2,400 of it fixed, 450 kept
    # for the answer) the queue overflows every turn or two, so eviction and summarization run
    # all the time. A turn takes ~570 tokens: its two block edits show both blocks in their
    # results (the cached prompt layout), so a 3,400-token window could not hold one turn.
    return TURN_TEXT.format(k=k) + words(k, 60)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class KillPoint:
    """Counts arrivals at each hook; blocks forever at the chosen one (the parent kills us)."""

    def __init__(self, spec: str | None) -> None:
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.arm(spec)

    def arm(self, spec: str | None) -> None:
        category, _, nth = (spec or "").partition(":")
        self.category, self.nth = category, int(nth or 0)

    def reach(self, category: str) -> None:
        with self.lock:
            self.counts[category] = self.counts.get(category, 0) + 1
            hit = category == self.category and self.counts[category] == self.nth
        if hit:
            say(f"AT {category}")
            while True:  # the parent SIGKILLs us here; never return
                time.sleep(3600)


class HashEmbeddings(Embeddings):
    """Deterministic 384-dim bag-of-words vectors (only with ``--embeddings hash``).

    Why it may stand in for MiniLM here: the crash promise is about what reaches the SQLite
    files (the archive's write transaction, the checkpoints), which is identical whatever the
    vectors are; loading torch + MiniLM costs each of the 25 processes several seconds. The
    default is the real model; this is for quick local iterations.
    """

    dims = 384

    def _vector(self, text: str) -> list[float]:
        import hashlib

        vector = [0.0] * self.dims
        for token in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dims] += 1.0
        norm = sum(v * v for v in vector) ** 0.5 or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def last_turn(messages: list[Any]) -> tuple[int, int]:
    """(turn number of the latest user message, its index) in a queue or prompt; (0, -1)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.type == "human":
            match = re.match(r"turn (\d+): ", str(message.content))
            if match:
                return int(match.group(1)), index
    return 0, -1


def make_agent_answer(kill: KillPoint):
    """The chat model: a pure function of the prompt, so any process continues any turn."""
    from langgraph_memgpt.testing import call, reply, tool_turn

    def answer(prompt: list[Any]):
        kill.reach("model")
        k, index = last_turn(prompt)
        after = prompt[index + 1 :]
        done = {m.name for m in after if m.type == "tool"}
        if "core_memory_replace" not in done:
            # Two edits in ONE model message: a checkpoint holding one but not the other
            # would be a half-applied step.
            return tool_turn(
                call(
                    "core_memory_replace",
                    label="human",
                    old_content=fact(k - 1),
                    new_content=fact(k),
                    request_heartbeat=True,
                ),
                call(
                    "core_memory_replace",
                    label="persona",
                    old_content=COUNTER.format(k=k - 1),
                    new_content=COUNTER.format(k=k),
                    request_heartbeat=True,
                ),
            )
        if "archival_memory_insert" not in done:
            return tool_turn(
                call(
                    "archival_memory_insert",
                    content=PASSAGE.format(k=k, words=words(k, 12)),
                    tags=["crash"],
                    request_heartbeat=True,
                )
            )
        return reply(REPLY.format(k=k, words=words(k, 5)))

    return answer


def make_summary_answer(kill: KillPoint):
    from langchain_core.messages import AIMessage

    def answer(prompt: list[Any]):
        kill.reach("summarize")
        text = str(prompt[-1].content)
        turns = sorted({int(t) for t in re.findall(r"turn (\d+): ", text)})
        covered = f"turns {turns[0]}-{turns[-1]}" if turns else "no user turns"
        return AIMessage(content=f"The user sent numbered test turns; this part covered {covered}.")

    return answer


def hook_tools(kill: KillPoint, current_turn: list[int]) -> None:
    """Put the kill point inside the real memory tools, after each computed its result.

    The tools are frozen dataclasses shared by every AgentSpec, so the wrapper is installed on
    the instances themselves (this process only).
    """
    from langgraph_memgpt.tools.archival import ARCHIVAL_TOOLS
    from langgraph_memgpt.tools.core_memory import CORE_MEMORY_TOOLS

    for tool in (*CORE_MEMORY_TOOLS, *ARCHIVAL_TOOLS):
        if tool.name == "archival_memory_search":
            continue
        original = tool.run

        def run(args: Any, ctx: Any, _original=original, _name=tool.name) -> Any:
            outcome = _original(args, ctx)
            if _name == "archival_memory_insert":
                # The insert returned: from here on the passage is acknowledged.
                say(f"PASSAGE {current_turn[0]} {json.dumps(args.content)}")
                kill.reach("inserted")
            kill.reach("tool")
            return outcome

        object.__setattr__(tool, "run", run)


def hook_saver(saver: Any, kill: KillPoint) -> None:
    """Kill points inside the checkpointer's puts, each before it writes: ``input`` (a turn's
    input checkpoint), ``first_step`` (the next one), ``save`` (any)."""
    original = saver.put
    after_input = [False]

    def put(config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        if after_input[0]:
            after_input[0] = False
            kill.reach("first_step")
        if (metadata or {}).get("source") == "input":
            kill.reach("input")
            after_input[0] = True
        kill.reach("save")
        return original(config, checkpoint, metadata, new_versions)

    saver.put = put


def index_config(embeddings: str) -> dict[str, Any]:
    if embeddings == "hash":
        return {"dims": HashEmbeddings.dims, "embed": HashEmbeddings(), "fields": ["content"]}
    from langgraph_memgpt.archival import default_index_config

    return dict(default_index_config())  # the real all-MiniLM-L6-v2, as the app opens it


def open_store(path: Path, index: dict[str, Any], kill: KillPoint):
    from langgraph.store.base import PutOp
    from langgraph_memgpt.archival.store import SqliteVecStore

    class HookedStore(SqliteVecStore):
        """The real store, with the kill point inside its write transaction."""

        def batch(self, ops: Any) -> Any:
            ops = list(ops)
            if any(isinstance(op, PutOp) for op in ops):
                kill.reach("write")
            return super().batch(ops)

        def _add_vectors(self, ns_id: int, fields: list) -> None:
            # Called inside ``with self.conn`` after the items rows were written: a kill here
            # leaves an open transaction with a passage row but no vectors yet.
            kill.reach("insert")
            super()._add_vectors(ns_id, fields)

    return HookedStore(path, index=index)


def make_consolidation_answer(kill: KillPoint):
    """The consolidation model: a fact and an entity per user turn shown in a chunk."""
    from langchain_core.messages import AIMessage
    from langgraph_memgpt.nodes.consolidate import EXTRACT_PROMPT

    def answer(prompt: list[Any]):
        if str(prompt[0].content) != EXTRACT_PROMPT:
            return AIMessage(content=json.dumps({"human": None}))  # the profile: unchanged
        kill.reach("extract")
        shown = str(prompt[-1].content)
        lines = re.findall(r"^\[(\d+)\] .*?user: turn (\d+): (\w+)", shown, re.MULTILINE)
        return AIMessage(
            content=json.dumps(
                {
                    "facts": [
                        {"fact": f"Turn {k} began with the word {word}.", "from": [int(n)]}
                        for n, k, word in lines
                    ],
                    "entities": [
                        {"name": f"turn {k}", "type": "event", "about": word, "from": [int(n)]}
                        for n, k, word in lines
                    ],
                    "relations": [],
                }
            )
        )

    return answer


def final_reply(result: dict[str, Any], after_turn: int | None = None) -> str:
    """The send_message text of the latest turn (after turn ``after_turn``'s user message)."""
    messages = result.get("messages") or []
    if after_turn is not None:
        turn, index = last_turn(messages)
        messages = messages[index + 1 :] if turn == after_turn else []
    for message in reversed(messages):
        for tool_call in getattr(message, "tool_calls", None) or []:
            if tool_call["name"] == "send_message":
                return str(tool_call["args"].get("message", ""))
    return ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--thread", default="crash")
    parser.add_argument("--kill", default=None, help="CATEGORY:N, block at that point")
    parser.add_argument("--turns", type=int, default=0, help="new turns to run (0: until killed)")
    parser.add_argument("--durability", choices=("async", "sync", "exit"), default="async")
    parser.add_argument("--embeddings", choices=("minilm", "hash"), default="minilm")
    parser.add_argument("--context-window", type=int, default=3800)
    parser.add_argument("--consolidate", action="store_true", help="consolidate, not turns")
    parser.add_argument(
        "--wait-go",
        action="store_true",
        help="warm up, print WARM, then read 'GO {json of kill/turns/durability}' from stdin",
    )
    args = parser.parse_args(argv)

    from langgraph_memgpt import Context, build_graph
    from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
    from langgraph_memgpt.testing import ScriptedChatModel

    kill = KillPoint(None)
    current_turn = [0]
    hook_tools(kill, current_turn)
    index = index_config(args.embeddings)
    if args.wait_go:
        # Start-up (imports, the embedding model) is done before the previous process is
        # killed, so 25 processes do not cost 25 model loads in a row. Nothing of the thread
        # has been opened yet: the files are opened only after GO, i.e. after the kill.
        say(f"WARM {time.perf_counter() - STARTED:.2f}")
        line = sys.stdin.readline()
        if not line.startswith("GO "):
            return 2
        for key, value in json.loads(line[3:]).items():
            setattr(args, key, value)
    kill.arm(args.kill)
    opened = time.perf_counter()
    store = open_store(args.workdir / "archive.sqlite", index, kill)
    chat = ScriptedChatModel(default=make_agent_answer(kill))
    summarizer = ScriptedChatModel(default=make_summary_answer(kill))
    ctx = Context(
        model="scripted",
        context_window=args.context_window,
        persona=PERSONA,
        human=fact(0),
        user_id=THREAD_USER,
        max_steps=10,
    )
    config = {"configurable": {"thread_id": args.thread}}
    with open_sqlite_checkpointer(args.workdir / "checkpoints.sqlite") as saver:
        hook_saver(saver, kill)
        agent = build_graph(chat, summarizer=summarizer, checkpointer=saver, store=store)
        say(f"READY {time.perf_counter() - opened:.2f}")
        if args.consolidate:
            from langgraph_memgpt.graph.consolidate import consolidate_thread

            # A small window: chunks of a few turns each, so a kill can fall between them.
            report = consolidate_thread(
                args.thread,
                checkpointer=saver,
                store=store,
                context=Context(
                    model="scripted",
                    context_window=2048,
                    max_output_tokens=256,
                    user_id=THREAD_USER,
                ),
                model=ScriptedChatModel(default=make_consolidation_answer(kill)),
            )
            say(f"CONSOLIDATED {json.dumps(report)}")
            store.close()
            say("DONE")
            return 0

        def run(k: int, payload: dict[str, Any] | None) -> None:
            current_turn[0] = k
            result = agent.invoke(payload, config, context=ctx, durability=args.durability)
            # The turn answered is the newest one in the result: a resumed run may have
            # answered a turn whose input get_state did not show yet (see ``first_step``).
            done, _ = last_turn(result.get("messages") or [])
            say(f"ACK {done or k} {json.dumps(final_reply(result))}")

        state = agent.get_state(config)
        queue = (state.values or {}).get("messages") or []
        k, _ = last_turn(queue)
        # ``next`` lists only the tasks still to run: when every task of the latest checkpoint
        # had stored its writes before the kill (async durability saves writes ahead of the
        # next checkpoint) ``next`` is empty although the turn is unfinished; ``tasks`` still
        # shows them, and ``invoke(None)`` applies their writes and continues.
        if state.next or state.tasks:
            # Killed mid-turn after some steps were checkpointed: continue from there.
            say(f"RESUME {k}")
            run(k, None)
        elif k:
            reply_text = final_reply(state.values, after_turn=k)
            if reply_text:
                # The last turn finished (its ACK may have been lost with the process).
                say(f"ACK {k} {json.dumps(reply_text)}")
            else:
                # Recorded but never answered and nothing pending: only a torn write could
                # leave this. A client would send the turn again; the parent flags it.
                say(f"UNANSWERED {k}")
                k -= 1
        first = k + 1
        last = first + args.turns - 1 if args.turns else first + 500
        for turn in range(first, last + 1):
            say(f"SEND {turn}")
            message = {"role": "user", "content": turn_message(turn), "id": f"turn-{turn}"}
            run(turn, {"messages": [message]})
    store.close()
    say("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
