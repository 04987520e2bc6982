"""The non-interactive commands: ``ingest``, ``export``, ``import``, ``status``, ``consolidate``
and ``engine``.

Each runs once and exits with a status code: results on stdout (so they can be piped),
progress and errors on stderr. They call the package's operations (document ingestion,
portability, status, the embedded engine) and only render what those return; the terminal
renderings they share with the chat (progress bars, a document's description, the token
budget's sections) live here too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TextIO

from langgraph_memgpt.archival import default_archive_path, open_archive
from langgraph_memgpt.archival.store import SqliteVecStore
from langgraph_memgpt.checkpoints.sqlite import default_checkpoint_path, open_sqlite_checkpointer
from langgraph_memgpt.cli.preflight import prepare_engine, prepare_model
from langgraph_memgpt.graph.consolidate import ConsolidationReport, consolidate_thread
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.memory.archive import archive_namespace
from langgraph_memgpt.memory.ingest import ingest_files
from langgraph_memgpt.memory.status import collect_status
from langgraph_memgpt.models import local_model, resolve_model_spec
from langgraph_memgpt.portability import (
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

SECTIONS = ("system", "core_memory", "tools", "summary", "queue")
"""The token budget's sections, in prompt order."""
UNITS = {"history": "messages", "archive": "passages"}
"""What an import counts in each of its stages that has a count."""


def add_storage_arguments(command: argparse.ArgumentParser) -> None:
    """``--db`` and ``--archive``: the two local files every command with memory reads."""
    command.add_argument("--db", help=f"checkpoint file (default {default_checkpoint_path()})")
    command.add_argument("--archive", help=f"archive file (default {default_archive_path()})")


def user_context(user: str | None) -> Context:
    """The default context, for ``--user`` when given (else MEMGPT_USER_ID or 'default')."""
    return Context(**({"user_id": user} if user else {}))


def storage_path(path: str | None, default: Path) -> Path:
    """The absolute file ``--db``/``--archive`` names, or the default one."""
    return (Path(path).expanduser() if path else default).resolve()


def existing_file(path: str | None, default: Path) -> Path | None:
    """``path`` (or the default) if that file exists, else None: reading never creates files."""
    target = storage_path(path, default)
    return target if target.exists() else None


def print_progress(name: str, done: int, total: int, unit: str = "passages") -> None:
    """A one-line progress bar on stderr, redrawn in place until ``done`` reaches ``total``."""
    width = 30
    filled = width * done // max(1, total)
    end = "\n" if done >= total else ""
    sys.stderr.write(
        f"\r{name}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {unit}{end}"
    )
    sys.stderr.flush()


def progress_line(stage: str, done: int, total: int) -> None:
    """A one-line progress bar on stderr for long operations (import, index rebuild)."""
    if stage not in UNITS:  # a step without a count
        sys.stderr.write(f"{stage}: {'done' if done >= total else 'working...'}\n")
        sys.stderr.flush()
        return
    print_progress(stage, done, total, UNITS[stage])


def describe_document(document: dict[str, Any]) -> str:
    """What an exported agent file holds, in one phrase."""
    passages = len(document["archival"]["passages"])
    return (
        f"thread '{document['thread_id']}' of user '{document['user_id']}' "
        f"({len(document['history'])} messages, {len(document['queue'])} in context, "
        f"{passages} archival passages)"
    )


def run_ingest(args: argparse.Namespace) -> int:
    ctx = user_context(args.user)
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


def run_export(args: argparse.Namespace) -> int:
    ctx = user_context(args.user)
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
    db = storage_path(args.db, default_checkpoint_path())
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
    ctx = user_context(args.user)
    db_path = storage_path(args.db, default_checkpoint_path())
    archive_path = storage_path(args.archive, default_archive_path())
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
        if budget.get("last_call_cached") is not None:
            rows.append(
                (
                    "  engine cache",
                    f"{budget['last_call_cached']} prompt tokens cached, "
                    f"{budget.get('last_call_processed')} processed",
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


def run_consolidate(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Consolidate a thread's history since the last run (the ``consolidate`` graph)."""
    ctx = user_context(args.user)
    if args.model:
        ctx = dataclasses.replace(ctx, model=args.model)
    db = existing_file(args.db, default_checkpoint_path())
    if db is None:
        print(
            f"error: no checkpoint file at {args.db or default_checkpoint_path()}", file=sys.stderr
        )
        return 1
    with open_sqlite_checkpointer(db) as saver:
        # Checked before the model and the embedding model are loaded, which takes seconds.
        if not thread_has_memory(saver, args.thread):
            print(f"error: thread '{args.thread}' has no messages in {db}", file=sys.stderr)
            return 1
        spec, note = resolve_model_spec(ctx.model, ctx.ollama_base_url)
        if note:
            print(note, file=sys.stderr)
        ctx = dataclasses.replace(ctx, model=spec)
        problem = prepare_model(ctx)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
        print("loading the archive and its embedding model...", file=sys.stderr)
        store = open_archive(args.archive)
        try:
            report = consolidate_thread(
                args.thread,
                checkpointer=saver,
                store=store,
                context=ctx,
                progress=lambda done, total: print_progress(
                    "consolidating", done, total, "messages"
                ),
            )
        finally:
            store.close()
    for line in report_lines(report):
        print(line, file=out)
    return 0


def report_lines(report: ConsolidationReport) -> list[str]:
    """A consolidation run's report for a terminal."""
    if not report["messages"]:
        return [f"thread '{report['thread_id']}': nothing new since the last consolidation"]
    lines = [
        f"thread '{report['thread_id']}' of user '{report['user_id']}': {report['messages']} "
        f"messages in {report['chunks']} chunks",
        f"  facts: {report['facts_added']} stored, {report['duplicates']} already known, "
        f"{report['superseded']} superseding older ones",
        f"  knowledge graph: {report['entities']} entity and {report['relations']} relation "
        "mentions merged",
        f"  core memory: {'; '.join(report['block_edits']) or 'unchanged'}",
    ]
    return lines + [f"  note: {note}" for note in report["notes"]]


def run_engine(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """``engine list``: packaged models and the binary; ``engine prepare``: build and fetch."""
    # Imported here: only this command needs the engine's build machinery.
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
