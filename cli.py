"""``langgraph-memgpt``: the terminal front end.

    langgraph-memgpt chat --thread ada --user ada

Conversations persist in a local SQLite checkpoint file, so running ``chat`` again with the
same thread continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph_memgpt.archival import default_archive_path, open_archive
from langgraph_memgpt.archival.ingest import ingest_files, print_progress
from langgraph_memgpt.checkpoints import default_checkpoint_path, open_sqlite_checkpointer
from langgraph_memgpt.graph import Context, build_graph
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.models import (
    ModelUnavailableError,
    first_line,
    ollama_url,
    split_model_spec,
)
from langgraph_memgpt.tools.archival import archive_namespace

DIM, BOLD, RESET = "\033[2m", "\033[1m", "\033[0m"


class Printer:
    """Compact rendering of a turn's stream: thoughts dim, tool calls one line each."""

    def __init__(self, out: TextIO, color: bool) -> None:
        self.out = out
        self.color = color
        self.streaming = False

    def style(self, text: str, style: str) -> str:
        return f"{style}{text}{RESET}" if self.color else text

    def line(self, text: str) -> None:
        self.end_stream()
        print(text, file=self.out, flush=True)

    def token(self, text: str) -> None:
        if not self.streaming:
            self.out.write(self.style("  … ", DIM))
            self.streaming = True
        self.out.write(self.style(text, DIM))
        self.out.flush()

    def end_stream(self) -> None:
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
    problem = check_ollama(ctx)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    printer = Printer(out, color=out.isatty())
    thread = args.thread or f"chat-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread}}
    db = Path(args.db) if args.db else default_checkpoint_path()
    printer.line("loading the archive and its embedding model...")
    store = open_archive(args.archive)
    with open_sqlite_checkpointer(db) as saver:
        agent = build_graph(checkpointer=saver, store=store, context=ctx)
        existing = agent.get_state(config).values.get("messages") or []
        state = "continuing" if existing else "new"
        printer.line(f"{state} thread '{thread}' · model {ctx.model} · {db}")
        printer.line("type /memory to see core memory, /quit to leave")
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
            if text == "/memory":
                show_memory(agent.get_state(config).values, printer)
                continue
            run_turn(agent, text, config, ctx, printer)


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


def show_memory(values: dict[str, Any], printer: Printer) -> None:
    for label, block in (values.get("blocks") or {}).items():
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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="langgraph-memgpt", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--thread", help="conversation id (default: a new one)")
    chat.add_argument("--user", help="user id (namespaces archival memory)")
    chat.add_argument("--model", help="e.g. ollama:qwen3:4b or openai:gpt-4o-mini")
    chat.add_argument("--context-window", type=int, help="tokens (default 8192)")
    chat.add_argument("--db", help=f"checkpoint file (default {default_checkpoint_path()})")
    chat.add_argument("--archive", help=f"archive file (default {default_archive_path()})")
    ingest = commands.add_parser("ingest", help="store documents in a user's archival memory")
    ingest.add_argument("files", nargs="+", help="text, Markdown or PDF files")
    ingest.add_argument("--user", help="whose archive (default: MEMGPT_USER_ID or 'default')")
    ingest.add_argument("--tag", action="append", help="extra tag (repeatable)")
    ingest.add_argument("--archive", help=f"archive file (default {default_archive_path()})")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "ingest":
        return run_ingest(args)
    if args.command == "chat":
        try:
            return run_chat(args)
        except KeyboardInterrupt:
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
