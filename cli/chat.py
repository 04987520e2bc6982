"""``langgraph-memgpt chat``: the interactive chat in a terminal.

The one command that keeps a session open: ``run_chat`` reads lines, sends messages to the
agent (``run_turn``) and runs the chat's own commands (``run_command``: /memory, /search,
/history, /export), which look at the same memory the agent has without spending a turn.
``Printer`` renders a turn's stream compactly. The model is checked before the first message
by ``cli/preflight.py``; the memory itself is read through the memory operations
(``memory/archive.py``, ``memory/recall.py``, ``memory/block_history.py``), so /search shows
what the agent's own searches would, and /history what the checkpoints hold.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import uuid
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
from langgraph_memgpt.archival import open_archive
from langgraph_memgpt.archival.store import SqliteVecStore
from langgraph_memgpt.checkpoints.sqlite import default_checkpoint_path, open_sqlite_checkpointer
from langgraph_memgpt.cli.commands import SECTIONS, describe_document
from langgraph_memgpt.cli.preflight import prepare_model
from langgraph_memgpt.graph.builder import build_graph
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.memory.archive import archive_namespace, format_passages, search_archive
from langgraph_memgpt.memory.block_history import BlockVersion, block_history
from langgraph_memgpt.memory.recall import format_page, search_conversation
from langgraph_memgpt.models import ModelUnavailableError, resolve_model_spec
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.tool_text import CALL_STARTS
from langgraph_memgpt.portability import ThreadNotFoundError, dump_document, export_agent

DIM, BOLD, RESET = "\033[2m", "\033[1m", "\033[0m"
CHAT_HELP = "commands: /memory, /search QUERY, /history LABEL, /export [FILE], /quit"


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
    elif name == "/history":
        if not rest:
            printer.line("usage: /history LABEL (a core memory block, e.g. /history human)")
        else:
            show_history(session, rest)
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
    ctx = session.ctx  # already this user's: no server identity to bind in a terminal
    try:
        results = search_archive(
            session.store,
            archive_namespace(ctx, session.thread),
            query,
            min_similarity=ctx.archival_min_similarity,
        )
    except ValueError as error:
        printer.line(f"error: {error}")
    else:
        printer.line(format_passages(results, query, page=0, page_size=ctx.archival_page_size))


def show_history(session: ChatSession, label: str) -> None:
    """Every version of a core memory block, oldest first, with its time and the edit."""
    printer = session.printer
    versions = block_history(session.agent, session.thread, label)
    if not versions:
        blocks = session.agent.get_state(session.config).values.get("blocks") or {}
        known = ", ".join(sorted(blocks)) or "none yet"
        printer.line(
            f"no versions of block '{label}' in thread '{session.thread}' (blocks: {known})"
        )
        return
    count = f"{len(versions)} version{'s' if len(versions) > 1 else ''}"
    printer.line(f"[{label}] {count}, oldest first")
    for number, version in enumerate(versions, start=1):
        printer.line(f"{number}. {describe_version(version)}")
        for line in (version.value or "(empty)").split("\n"):
            printer.line(f"   {line}")


def describe_version(version: BlockVersion) -> str:
    """One version's header line: time, edit, size."""
    when = version.time[:19].replace("T", " ")
    edit = f"agent: {version.edit}" if version.kind == "agent" else version.edit
    return f"{when} · {edit} · {len(version.value)}/{version.limit} chars"


def run_turn(agent: Any, text: str, config: dict[str, Any], ctx: Context, printer: Printer) -> None:
    """Send one message and render the turn as it streams."""
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
    """The thread's core memory blocks, summary and token budget, as /memory prints them."""
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
