"""Concurrency: many users at once on ONE checkpoint file and ONE archive, nothing lost or crossed.

Two experiments, both on real SQLite / sqlite-vec files:

1. In process: 8 users x 25 turns, each user in their own OS thread with their own LangGraph
   ``thread_id`` and ``user_id``, all through one compiled graph, one ``SqliteSaver`` (opened by
   ``open_sqlite_checkpointer``) and one ``SqliteVecStore`` (opened by ``open_archive``), as
   the terminal chat and ``server/factories.py`` share them. A scripted model answers every
   turn with ``archival_memory_insert`` (and every fifth turn a ``core_memory_append`` too),
   then replies. Afterwards each user searches their history (``conversation_search``'s
   Python API) concurrently, which builds the recall index from 8 threads at once.
2. Through ``langgraph dev`` (the real server on langgraph.json's factories, 8 jobs at once)
   with the Ollama double: 8 threads, 5 runs each, sent concurrently with ``runs.wait``.

Afterwards, read back from the files: every user message and every reply of every turn is in
its own thread's history (``checkpoints/history.py``), every passage is in the archive under
its own user, every core memory edit is in its own thread's block, and no text of user A is
anywhere in B's thread, block or archive namespace. Any exception (``database is locked`` in
particular) or failed tool call counts as a problem.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from outcome import Outcome

USERS = 8
TURNS = 25
DEV_TURNS = 5
OWN_CONNECTION_TURNS = 10
CORE_EDIT_EVERY = 5
WINDOW = 32768
"""Large enough that 25 turns never trigger eviction (the scripted model does not summarize)."""
MARK = re.compile(r"\[(u\d+) t(\d+)\]")


def user_name(number: int) -> str:
    return f"u{number}"


def user_text(user: str, turn: int) -> str:
    # The marker names the user and turn; the word makes the text unique for recall search.
    return f"[{user} t{turn}] note {user}x{turn}word for my records"


def passage_text(user: str, turn: int) -> str:
    return f"[{user} t{turn}] passage: {user} said {user}x{turn}word"


def core_text(user: str, turn: int) -> str:
    return f"[{user} t{turn}] fact"


def reply_text(user: str, turn: int) -> str:
    return f"[{user} t{turn}] stored"


def plan(user: str, turn: int, tool_results_seen: bool) -> tuple[list[tuple[str, dict]], str]:
    """What the model does for (user, turn): the tool calls, or (after them) the reply."""
    if tool_results_seen:
        return [], reply_text(user, turn)
    calls: list[tuple[str, dict]] = [
        (
            "archival_memory_insert",
            {"content": passage_text(user, turn), "request_heartbeat": True},
        )
    ]
    if turn % CORE_EDIT_EVERY == 0:
        calls.append(
            (
                "core_memory_append",
                {"label": "human", "content": core_text(user, turn), "request_heartbeat": True},
            )
        )
    return calls, ""


def scripted_answer(messages: list[BaseMessage]) -> AIMessage:
    """The in-process model: a function of the prompt only (safe to share between threads)."""
    from langgraph_memgpt.testing import call, reply, tool_turn

    last_user = max(
        (
            i
            for i, m in enumerate(messages)
            if isinstance(m, HumanMessage) and MARK.search(str(m.content))
        ),
        default=None,
    )
    if last_user is None:
        raise RuntimeError("scripted model: no marked user message in the prompt")
    user, turn = MARK.search(str(messages[last_user].content)).groups()  # type: ignore[union-attr]
    seen = any(isinstance(m, ToolMessage) for m in messages[last_user + 1 :])
    calls, text = plan(user, int(turn), seen)
    return tool_turn(*(call(name, **args) for name, args in calls)) if calls else reply(text)


def double_answer(request: dict[str, Any]) -> Any:
    """The same behaviour for the Ollama double (Ollama's chat request format)."""
    from ollama_double import Answer, send_message

    messages = request.get("messages", [])
    last_user = max(
        (
            i
            for i, m in enumerate(messages)
            if m.get("role") == "user" and MARK.search(str(m.get("content")))
        ),
        default=None,
    )
    if last_user is None:
        return send_message("no marked message")
    user, turn = MARK.search(str(messages[last_user]["content"])).groups()  # type: ignore[union-attr]
    seen = any(m.get("role") == "tool" for m in messages[last_user + 1 :])
    calls, text = plan(user, int(turn), seen)
    if not calls:
        return send_message(text)
    return Answer(tool_calls=[{"name": name, "arguments": args} for name, args in calls])


@dataclass
class Tally:
    turns: int = 0
    passages: int = 0
    core_edits: int = 0
    lock_errors: int = 0
    missing: int = 0
    crossed: int = 0
    at_once: int = 0
    """Most runs in progress at the same moment (between their first and last model call)."""
    errors: list[str] = field(default_factory=list)


def most_at_once(calls: list[tuple[float, str]]) -> int:
    """Most turns in progress at once, a turn lasting from its first to its last model call."""
    spans: dict[str, list[float]] = {}
    for when, turn in calls:
        spans.setdefault(turn, []).append(when)
    events = sorted(
        [(min(t), 1) for t in spans.values()] + [(max(t), -1) for t in spans.values()],
        key=lambda e: (e[0], e[1]),
    )
    running = best = 0
    for _, step in events:
        running += step
        best = max(best, running)
    return best


def _count_error(tally: Tally, outcome: Outcome, where: str, error: BaseException | str) -> None:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    if "locked" in text or "busy" in text.lower():
        tally.lock_errors += 1
    outcome.expect(False, f"{where}: {text[:300]}")


def _message_text(message: BaseMessage) -> str:
    text = str(message.content)
    if isinstance(message, AIMessage):
        text += " " + " ".join(str(c["args"]) for c in message.tool_calls)
    return text


def check_history(
    messages: list[BaseMessage],
    user: str,
    turns: int,
    tally: Tally,
    outcome: Outcome,
    where: str,
) -> None:
    """Every turn's user message and reply present; no other user's marker; no tool errors."""
    texts = [_message_text(m) for m in messages]
    for turn in range(turns):
        for wanted in (user_text(user, turn), reply_text(user, turn)):
            if not any(wanted in t for t in texts):
                tally.missing += 1
                outcome.messages_lost += 1
                outcome.expect(False, f"{where}: {user}'s thread lacks {wanted!r}")
    for text in texts:
        owners = {m.group(1) for m in MARK.finditer(text)}
        if owners - {user}:
            tally.crossed += 1
            outcome.cross_user_leaks += 1
            outcome.expect(False, f"{where}: {user}'s thread holds {text[:120]!r}")
    for message in messages:
        if isinstance(message, ToolMessage) and message.status == "error":
            _count_error(
                tally, outcome, f"{where} tool result in {user}'s thread", str(message.content)
            )


def check_archive(
    store: Any, users: list[str], turns: int, tally: Tally, outcome: Outcome, where: str
) -> None:
    """Each user's namespace holds exactly their passages, once each, and nothing else."""
    namespaces = {tuple(ns) for ns in store.list_namespaces(prefix=("archival",), limit=1000)}
    outcome.expect(
        namespaces == {("archival", u) for u in users},
        f"{where}: archive namespaces are {sorted(namespaces)}",
    )
    for user in users:
        items = store.search(("archival", user), limit=10_000)
        contents = [str(item.value.get("content")) for item in items]
        for turn in range(turns):
            found = contents.count(passage_text(user, turn))
            if found != 1:
                tally.missing += found == 0
                outcome.messages_lost += found == 0
                outcome.expect(False, f"{where}: passage {user} t{turn} stored {found} times")
        for content in contents:
            if {m.group(1) for m in MARK.finditer(content)} - {user}:
                tally.crossed += 1
                outcome.cross_user_leaks += 1
                outcome.expect(False, f"{where}: {user}'s archive holds {content[:120]!r}")
        tally.passages += len(items)


def check_core(
    blocks: dict[str, Any], user: str, turns: int, tally: Tally, outcome: Outcome, where: str
) -> None:
    human = str((blocks.get("human") or {}).get("value", ""))
    for turn in range(0, turns, CORE_EDIT_EVERY):
        if core_text(user, turn) in human:
            tally.core_edits += 1
        else:
            tally.missing += 1
            outcome.messages_lost += 1
            outcome.expect(False, f"{where}: {user}'s human block lacks {core_text(user, turn)!r}")
    if {m.group(1) for m in MARK.finditer(human)} - {user}:
        tally.crossed += 1
        outcome.cross_user_leaks += 1
        outcome.expect(False, f"{where}: {user}'s human block holds another user's fact")


# -- 1. in process ------------------------------------------------------------------------


def run_in_process(
    workdir: Path,
    outcome: Outcome,
    users: int = USERS,
    turns: int = TURNS,
    *,
    own_connections: bool = False,
) -> Tally:
    """Users in parallel threads, sharing one saver and one store (how one process runs),
    or with ``own_connections`` each opening the same two files for themselves (how
    several processes, e.g. the terminal chat next to ``langgraph dev``, meet in SQLite's
    file locks: there "database is locked" would surface without a busy timeout)."""
    from langgraph_memgpt import Context, build_graph
    from langgraph_memgpt.archival import open_archive
    from langgraph_memgpt.checkpoints.history import read_log
    from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
    from langgraph_memgpt.memory.recall import search_conversation
    from langgraph_memgpt.steps import drive
    from langgraph_memgpt.testing import ScriptedChatModel

    tally = Tally()
    names = [user_name(n) for n in range(users)]
    store = open_archive(workdir / "archive.sqlite")
    try:
        with open_sqlite_checkpointer(workdir / "checkpoints.sqlite") as saver:
            calls: list[tuple[float, str]] = []

            def recording_answer(messages: list[BaseMessage]) -> AIMessage:
                found = [MARK.search(str(m.content)) for m in messages]
                marked = [m.groups() for m in found if m]
                if marked:
                    calls.append((time.monotonic(), " ".join(marked[-1])))
                return scripted_answer(messages)

            graph = build_graph(
                ScriptedChatModel(default=recording_answer), checkpointer=saver, store=store
            )

            counting = threading.Lock()

            def one_user(user: str) -> None:
                try:
                    opened_for(user)
                except Exception as error:  # opening the files: recorded too
                    _count_error(tally, outcome, f"opening the files for {user}", error)

            def opened_for(user: str) -> None:
                with ExitStack() as own:
                    if own_connections:
                        mine = own.enter_context(
                            open_sqlite_checkpointer(workdir / "checkpoints.sqlite")
                        )
                        archive = open_archive(workdir / "archive.sqlite")
                        own.callback(archive.close)
                        model = ScriptedChatModel(default=recording_answer)
                        user_turns(user, build_graph(model, checkpointer=mine, store=archive))
                    else:
                        user_turns(user, graph)

            def user_turns(user: str, graph: Any) -> None:
                config = {"configurable": {"thread_id": f"thread-{user}"}}
                context = Context(user_id=user, context_window=WINDOW)
                for turn in range(turns):
                    try:
                        graph.invoke(
                            {"messages": [{"role": "user", "content": user_text(user, turn)}]},
                            config,
                            context=context,
                        )
                        with counting:
                            tally.turns += 1
                    except Exception as error:  # recorded: nothing may escape
                        _count_error(tally, outcome, f"in-process {user} turn {turn}", error)

            with ThreadPoolExecutor(max_workers=users) as pool:
                list(pool.map(one_user, names))
            tally.at_once = most_at_once(calls)
            outcome.expect(users < 2 or tally.at_once > 1, "in-process turns never overlapped")

            # Recall search from every user at once (builds the shared index concurrently).
            def search(user: str) -> None:
                word = f"{user}x{turns // 2}word"
                try:
                    page = search_conversation(saver, f"thread-{user}", word, limit=10)
                except Exception as error:
                    _count_error(tally, outcome, f"conversation_search for {user}", error)
                    return
                texts = [hit.text for hit in page.hits]
                if not any(word in t for t in texts):
                    outcome.expect(False, f"conversation_search for {user}: {word} not found")
                if any({m.group(1) for m in MARK.finditer(t)} - {user} for t in texts):
                    tally.crossed += 1
                    outcome.cross_user_leaks += 1
                    outcome.expect(False, f"conversation_search for {user} returned another's text")

            with ThreadPoolExecutor(max_workers=users) as pool:
                list(pool.map(search, names))

        # Read back from the files through fresh connections (what a restart would see).
        with open_sqlite_checkpointer(workdir / "checkpoints.sqlite") as saver:
            graph = build_graph(ScriptedChatModel(), checkpointer=saver, store=store)
            for user in names:
                thread = f"thread-{user}"
                log = drive(read_log(saver, thread, {}))
                check_history(log.messages, user, turns, tally, outcome, "in-process history")
                state = graph.get_state({"configurable": {"thread_id": thread}}).values
                check_core(state.get("blocks") or {}, user, turns, tally, outcome, "in-process")
    finally:
        store.close()
    reopened = open_archive(workdir / "archive.sqlite")
    try:
        check_archive(reopened, names, turns, tally, outcome, "in-process archive")
    finally:
        reopened.close()
    return tally


# -- 2. langgraph dev ---------------------------------------------------------------------


def concurrent_dev_server(workdir: Path, double: Any, jobs: int) -> Any:
    """A DevServer whose ``langgraph dev`` runs ``jobs`` runs at once (one without the flag)."""
    from dev_server import DevServer

    return DevServer(
        workdir=workdir,
        double=double,
        window=WINDOW,
        extra_args=["--n-jobs-per-worker", str(jobs)],
    )


async def _drive_dev(
    url: str, users: list[str], turns: int, tally: Tally, outcome: Outcome
) -> dict[str, str]:
    from langgraph_sdk import get_client

    client = get_client(url=url, timeout=300)
    threads = {u: (await client.threads.create())["thread_id"] for u in users}

    async def one_user(user: str) -> None:
        for turn in range(turns):
            try:
                result = await client.runs.wait(
                    threads[user],
                    "memgpt",
                    input={"messages": [{"role": "user", "content": user_text(user, turn)}]},
                    context={"user_id": user},
                )
            except Exception as error:
                _count_error(tally, outcome, f"langgraph dev {user} turn {turn}", error)
                continue
            if isinstance(result, dict) and "__error__" in result:
                _count_error(tally, outcome, f"langgraph dev {user} turn {turn}", str(result))
            else:
                tally.turns += 1

    await asyncio.gather(*(one_user(u) for u in users))
    return threads


def run_dev_server(
    workdir: Path, outcome: Outcome, users: int = USERS, turns: int = DEV_TURNS
) -> Tally:
    from langgraph_memgpt.archival import SqliteVecStore
    from langgraph_memgpt.checkpoints.history import read_log
    from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
    from langgraph_memgpt.steps import drive
    from ollama_double import OllamaDouble

    tally = Tally()
    names = [user_name(n) for n in range(users)]
    workdir.mkdir(parents=True, exist_ok=True)
    calls: list[tuple[float, str]] = []  # (when, "user turn") of every model call

    def recording_answer(request: dict[str, Any]) -> Any:
        marks = [MARK.search(str(m.get("content"))) for m in request.get("messages", [])]
        found = [m.groups() for m in marks if m]
        if found:
            calls.append((time.monotonic(), " ".join(found[-1])))
        return double_answer(request)

    double = OllamaDouble(responder=recording_answer).start()
    server = concurrent_dev_server(workdir, double, jobs=users)
    try:
        server.start()
        threads = asyncio.run(_drive_dev(server.url, names, turns, tally, outcome))
        log = server.output()
        for line in log.splitlines():
            if "database is locked" in line:
                tally.lock_errors += 1
                outcome.expect(False, f"langgraph dev log: {line[:300]}")
    finally:
        server.stop()
        double.stop()
    tally.at_once = most_at_once(calls)
    outcome.expect(
        tally.at_once > 1, "langgraph dev ran the runs one at a time: nothing was concurrent"
    )
    # The server is stopped: read its files as they are on disk.
    with open_sqlite_checkpointer(server.checkpoint_db) as saver:
        for user in names:
            messages = drive(read_log(saver, threads[user], {})).messages
            check_history(messages, user, turns, tally, outcome, "langgraph dev history")
    store = SqliteVecStore(server.archive_db)  # no embedding model needed to list items
    try:
        check_archive(store, names, turns, tally, outcome, "langgraph dev archive")
    finally:
        store.close()
    return tally


def check(workdir: Path) -> Outcome:
    outcome = Outcome("concurrency")
    (workdir / "in-process").mkdir(parents=True, exist_ok=True)
    (workdir / "connections").mkdir(parents=True, exist_ok=True)
    try:
        local = run_in_process(workdir / "in-process", outcome)
    except Exception as error:  # recorded, so the report still prints the other figures
        outcome.expect(False, f"in-process experiment failed: {type(error).__name__}: {error}")
        local = Tally()
    try:
        apart = run_in_process(
            workdir / "connections", outcome, turns=OWN_CONNECTION_TURNS, own_connections=True
        )
    except Exception as error:
        outcome.expect(False, f"own-connections experiment failed: {type(error).__name__}: {error}")
        apart = Tally()
    try:
        dev = run_dev_server(workdir / "dev", outcome)
    except BaseException as error:  # pytest.fail / skip from DevServer, or anything else
        outcome.expect(False, f"langgraph dev experiment failed: {type(error).__name__}: {error}")
        dev = Tally()
    locks = local.lock_errors + apart.lock_errors + dev.lock_errors
    missing = local.missing + apart.missing + dev.missing
    crossed = local.crossed + apart.crossed + dev.crossed
    outcome.figure = (
        f"{USERS} users x {TURNS} turns in-process ({local.turns} turns, up to "
        f"{local.at_once} at once, {local.passages} passages, {local.core_edits} core edits) + "
        f"{USERS} x {OWN_CONNECTION_TURNS} with a connection each ({apart.turns} turns, "
        f"{apart.passages} passages) + {USERS} x {DEV_TURNS} concurrent runs on langgraph dev "
        f"({dev.turns} runs, up to {dev.at_once} at once, {dev.passages} passages): "
        f"{locks} lock errors, {missing} missing, {crossed} cross-thread"
    )
    return outcome
