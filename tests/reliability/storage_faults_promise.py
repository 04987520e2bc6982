"""Storage faults: read-only and full disks, corrupted files -> clear errors, nothing half-written.

Every fault is real, on real SQLite / sqlite-vec files:

- read-only: the writer runs in a child process that sees the folder read-only. As a normal
  user that is ``chmod`` (file 0444, folder 0555); as root ``chmod`` stops nothing, so the
  child runs in its own mount namespace with the folder bind-mounted read-only
  (``unshare -m`` + ``mount --bind -o ro``: the kernel answers EROFS). If neither is possible
  the case is reported as not run.
- full disk: a child process sets ``RLIMIT_FSIZE`` just above the files' sizes and ignores
  SIGXFSZ, so SQLite's next large write gets EFBIG; and in process ``PRAGMA max_page_count``
  makes SQLite answer SQLITE_FULL.
- corrupted: garbage bytes in place of the archive, the checkpoint file and the recall index,
  and archive / checkpoint files cut to half their length.

Each must give a clear error (a ``StorageError`` naming the file, the problem and a fix) at
open or at the failing write, and afterwards the files, reopened, must hold exactly what they
held before (no partial passage, no partial turn, ``PRAGMA integrity_check`` ok). The recall
index is derived: a corrupted one is moved aside and rebuilt from the checkpoints, and the
search still finds the thread's messages.

This file is also the child process: ``python storage_faults_promise.py MODE FOLDER [LIMIT]``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "integration"), str(HERE.parent / "support")]

from outcome import Outcome  # noqa: E402

ARCHIVE = "archive.sqlite"
CHECKPOINTS = "checkpoints.sqlite"
NAMESPACE = ("archival", "ada")
THREAD = "thread-ada"
PASSAGES = [f"Ada fact {n}: the lighthouse keeper {n} likes tea." for n in range(5)]
FIRST_TURNS = ["Hi, I am Ada and I keep a lighthouse.", "My cat Miso sleeps on the lamp."]
BIG = 400_000
"""Characters of the write that must not fit (random hex: compresses only about 2x)."""
HEADROOM = 64 * 1024
"""RLIMIT_FSIZE above the largest file: room for small writes, not for the big one."""
CHILD_TIMEOUT = 120


# -- the stores, opened as the product opens them ---------------------------------------------


def fake_index() -> dict[str, Any]:
    """A deterministic 384-dimension embedding: the fault tests need no real model."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return {"dims": 384, "embed": DeterministicFakeEmbedding(size=384), "fields": ["content"]}


def open_store(folder: Path) -> Any:
    from langgraph_memgpt.archival import SqliteVecStore

    return SqliteVecStore(folder / ARCHIVE, index=fake_index())  # type: ignore[arg-type]


def scripted_reply(messages: list[Any]) -> Any:
    from langgraph_memgpt.testing import reply

    return reply(f"Noted ({len(messages)} messages).")


def run_turn(saver: Any, text: str) -> None:
    from langgraph_memgpt import Context, build_graph
    from langgraph_memgpt.testing import ScriptedChatModel

    graph = build_graph(ScriptedChatModel(default=scripted_reply), checkpointer=saver)
    graph.invoke(
        {"messages": [{"role": "user", "content": text}]},
        {"configurable": {"thread_id": THREAD}},
        context=Context(user_id="ada", context_window=32768),
    )


def big_text() -> str:
    return os.urandom(BIG // 2).hex()


# -- the child process --------------------------------------------------------------------


def limit_file_size(limit: int) -> None:
    """No file of this process may grow past ``limit`` bytes: writes beyond get EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def child(mode: str, folder: Path, limit: int | None) -> dict[str, Any]:
    """Open, (limit the file size,) write; report the stage reached and the error."""
    from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer

    stage = "open"
    try:
        if mode == "archive":
            store = open_store(folder)
            if limit:
                limit_file_size(limit)
            stage = "write"
            store.put(NAMESPACE, "big", {"content": big_text()})
            store.put(NAMESPACE, "small", {"content": "one more passage"})
            return {"stage": "done"}
        if mode == "checkpoint":
            with open_sqlite_checkpointer(folder / CHECKPOINTS) as saver:
                if limit:
                    limit_file_size(limit)
                stage = "write"
                run_turn(saver, big_text())
            return {"stage": "done"}
        if mode == "recall":
            from langgraph_memgpt.memory.recall import search_conversation

            with open_sqlite_checkpointer(folder / CHECKPOINTS) as saver:
                stage = "search"
                page = search_conversation(saver, THREAD, "lighthouse keeper")
                return {"stage": "done", "hits": [h.text for h in page.hits]}
        raise ValueError(f"unknown mode {mode}")
    except Exception as error:
        return {
            "stage": stage,
            "type": type(error).__name__,
            "error": str(error),
            "problem": getattr(error, "problem", None),
        }


def run_child(
    mode: str, folder: Path, *, limit: int | None = None, prefix: Sequence[str] = ()
) -> dict:
    command = [*prefix, sys.executable, str(Path(__file__).resolve()), mode, str(folder)]
    if limit:
        command.append(str(limit))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMGPT_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no .pyc writes under the file size limit
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=env, cwd=folder.parent
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"stage": "crashed", "error": f"exit {done.returncode}: {done.stderr[-2000:]}"}
    return json.loads(lines[-1])


# -- read-only ----------------------------------------------------------------------------


def read_only_runner(
    folder: Path, only: Path | None = None
) -> tuple[str, list[str], Callable[[], None]] | None:
    """(how, command prefix, undo) that make ``folder`` (or just the file ``only`` in it)
    read-only for a child process, or None where that is impossible."""
    targets = [only] if only else [folder, *folder.iterdir()]
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in targets}
        for path in targets:
            path.chmod(0o555 if path.is_dir() else 0o444)

        def undo() -> None:
            for path, mode in modes.items():
                path.chmod(mode)

        return "chmod", [], undo
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    mounted = only or folder
    prefix = [unshare, "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(mounted)]
    # Exit 7 only if the mount worked (no CAP_SYS_ADMIN: it fails) and the write then failed.
    probe = subprocess.run(
        [
            *prefix,
            "sh",
            "-c",
            'if echo >> "$0"; then exit 0; else exit 7; fi',
            str(mounted if only else folder / "probe"),
        ],
        capture_output=True,
    )
    (folder / "probe").unlink(missing_ok=True)
    if probe.returncode != 7:
        return None
    how = "read-only bind mount of the " + ("file" if only else "folder")
    return how, prefix, lambda: None


# -- what the files hold ------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveState:
    keys: tuple[str, ...]
    vectors: int
    integrity: str


def archive_state(folder: Path) -> ArchiveState:
    store = open_store(folder)
    try:
        keys = tuple(sorted(item.key for item in store.search(NAMESPACE, limit=1000)))
        vectors = store.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        fts = store.conn.execute("SELECT count(*) FROM vec_text").fetchone()[0]
        integrity = store.conn.execute("PRAGMA integrity_check").fetchone()[0]
        if fts != vectors:
            integrity += f" (vectors {vectors}, text rows {fts})"
        return ArchiveState(keys, vectors, integrity)
    finally:
        store.close()


@dataclass(frozen=True)
class ThreadState:
    messages: tuple[str, ...]
    checkpoint: str | None
    integrity: str


def thread_state(folder: Path) -> ThreadState:
    import sqlite3

    from langgraph_memgpt.checkpoints.history import read_log
    from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer
    from langgraph_memgpt.steps import drive

    with open_sqlite_checkpointer(folder / CHECKPOINTS) as saver:
        log = drive(read_log(saver, THREAD, {}))
        latest = saver.get_tuple({"configurable": {"thread_id": THREAD}})
        checkpoint = latest.config["configurable"]["checkpoint_id"] if latest else None
    with closing(sqlite3.connect(folder / CHECKPOINTS)) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    return ThreadState(tuple(m.id or "" for m in log.messages), checkpoint, integrity)


def build_files(folder: Path) -> None:
    from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer

    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(folder)
    try:
        for number, text in enumerate(PASSAGES):
            store.put(NAMESPACE, f"p{number}", {"content": text})
    finally:
        store.close()
    with open_sqlite_checkpointer(folder / CHECKPOINTS) as saver:
        for text in FIRST_TURNS:
            run_turn(saver, text)


def fresh_copy(base: Path, workdir: Path, name: str) -> Path:
    target = workdir / name
    shutil.copytree(base, target)
    return target


# -- the experiment -----------------------------------------------------------------------


@dataclass
class Count:
    injected: int = 0
    clear: int = 0
    half_written: int = 0
    cases: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def is_clear(report: dict[str, Any], path: Path, problems: set[str]) -> bool:
    """A StorageError that names the file, says what is wrong (one of ``problems``) and how
    to fix it."""
    text = str(report.get("error", ""))
    return (
        report.get("type") == "StorageError"
        and str(path) in text
        and report.get("problem") in problems
        and "Fix:" in text
    )


def expect_error(
    outcome: Outcome, count: Count, case: str, report: dict, path: Path, problems: set[str]
) -> None:
    count.injected += 1
    count.cases.append(case)
    if outcome.expect(
        is_clear(report, path, problems),
        f"{case}: no clear error (expected {sorted(problems)} naming {path}): {report}",
    ):
        count.clear += 1


def expect_unchanged(
    outcome: Outcome, count: Count, case: str, before: Any, after: Any, integrity: str
) -> None:
    if before != after or integrity != "ok":
        count.half_written += 1
        outcome.messages_lost += int(before != after)
        outcome.expect(False, f"{case}: files changed by the failed write: {before} -> {after}")


def summary(cases: list[str]) -> str:
    """'read-only x4, disk full x4, ...': the cases grouped by kind, in order."""
    kinds = {
        "read-only": "read-only",
        "disk full": "disk full",
        "garbage archive": "corrupt archive",
        "truncated archive": "corrupt archive",
        "garbage checkpoints": "corrupt checkpoints",
        "truncated checkpoints": "corrupt checkpoints",
        "corrupt recall index": "corrupt recall index",
    }
    groups: dict[str, int] = {}
    for case in cases:
        kind = next((k for p, k in kinds.items() if case.startswith(p)), case)
        groups[kind] = groups.get(kind, 0) + 1
    return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in groups.items())


def error_of(action: Callable[[], Any]) -> dict[str, Any]:
    try:
        action()
    except Exception as error:
        return {
            "type": type(error).__name__,
            "error": str(error),
            "problem": getattr(error, "problem", None),
        }
    return {"stage": "done"}


def check(workdir: Path) -> Outcome:
    from langgraph_memgpt.checkpoints.sqlite import open_sqlite_checkpointer

    outcome = Outcome("storage faults")
    count = Count(cases=[], skipped=[])
    base = workdir / "base"
    build_files(base)
    archive_before = archive_state(base)
    thread_before = thread_state(base)
    outcome.expect(
        len(archive_before.keys) == len(PASSAGES) and len(thread_before.messages) >= 4,
        f"set-up: {archive_before} {thread_before}",
    )

    def archive_unchanged(case: str, folder: Path) -> None:
        after = archive_state(folder)
        expect_unchanged(outcome, count, case, archive_before, after, after.integrity)

    def thread_unchanged(case: str, folder: Path) -> None:
        after = thread_state(folder)
        expect_unchanged(outcome, count, case, thread_before, after, after.integrity)

    # 1. read-only: the folder (refused at open: SQLite cannot make its -wal/-shm files) and
    # the file alone (refused at the first write, or at open by the checkpointer's probe).
    for mode in ("archive", "checkpoint"):
        for scope in ("folder", "file"):
            case = f"read-only {mode} {scope}"
            folder = fresh_copy(base, workdir, case.replace(" ", "-"))
            target = folder / (ARCHIVE if mode == "archive" else CHECKPOINTS)
            runner = read_only_runner(folder, target if scope == "file" else None)
            if runner is None:
                count.skipped.append(f"{case} (no way to make it read-only here)")
                continue
            how, prefix, undo = runner
            try:
                report = run_child(mode, folder, prefix=prefix)
            finally:
                undo()
            expected = {"read-only", "cannot open"} if scope == "folder" else {"read-only"}
            expect_error(outcome, count, f"{case} ({how})", report, target, expected)
            (archive_unchanged if mode == "archive" else thread_unchanged)(case, folder)

    # 2. full disk: EFBIG from RLIMIT_FSIZE in a child. The archive's big passage does not
    # fit; the checkpoint file fails at its first write, or (more room) in the middle of a
    # turn, after some of the turn's writes were stored.
    for mode, case, room in (
        ("archive", "disk full archive", HEADROOM),
        ("checkpoint", "disk full checkpoints at the first write", None),
        ("checkpoint", "disk full checkpoints mid-turn", HEADROOM),
    ):
        folder = fresh_copy(base, workdir, case.replace(" ", "-"))
        target = folder / (ARCHIVE if mode == "archive" else CHECKPOINTS)
        limit = target.stat().st_size + room if room else 4096  # 4 KB: not one WAL frame
        report = run_child(mode, folder, limit=limit)
        # EFBIG reaches SQLite as SQLITE_IOERR_WRITE (or plain SQLITE_IOERR without extended
        # codes): "i/o error", whose message names the full disk and the file size limit.
        expect_error(
            outcome, count, f"{case} (RLIMIT_FSIZE)", report, target, {"disk full", "i/o error"}
        )
        (archive_unchanged if mode == "archive" else thread_unchanged)(case, folder)

    # 3. full disk: SQLITE_FULL from max_page_count, in process; the store stays usable.
    folder = fresh_copy(base, workdir, "full-pages")
    store = open_store(folder)
    try:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        report = error_of(lambda: store.put(NAMESPACE, "big", {"content": big_text()}))
        expect_error(
            outcome,
            count,
            "disk full archive (max_page_count)",
            report,
            folder / ARCHIVE,
            {"disk full"},
        )
        hits = store.search(NAMESPACE, query=PASSAGES[0], limit=1)
        outcome.expect(
            bool(hits) and hits[0].key == "p0",
            f"archive unusable after SQLITE_FULL: {[h.key for h in hits]}",
        )
    finally:
        store.close()
    archive_unchanged("disk full archive (max_page_count)", folder)

    # 4. corrupted files: garbage bytes and truncation, refused at open.
    def garbage(path: Path) -> None:
        path.write_bytes(os.urandom(64 * 1024))

    def truncate(path: Path) -> None:
        with path.open("r+b") as handle:
            handle.truncate(path.stat().st_size // 2)

    for name, damage in (("garbage", garbage), ("truncated", truncate)):
        folder = fresh_copy(base, workdir, f"{name}-archive")
        damage(folder / ARCHIVE)
        report = error_of(lambda folder=folder: open_store(folder).close())
        expect_error(outcome, count, f"{name} archive", report, folder / ARCHIVE, {"corrupted"})

        folder = fresh_copy(base, workdir, f"{name}-checkpoints")
        damage(folder / CHECKPOINTS)

        def open_checkpoints(folder: Path = folder) -> None:
            with open_sqlite_checkpointer(folder / CHECKPOINTS):
                pass

        report = error_of(open_checkpoints)
        expect_error(
            outcome, count, f"{name} checkpoints", report, folder / CHECKPOINTS, {"corrupted"}
        )

    # 5. corrupted recall index: derived, so rebuilt from the checkpoints.
    folder = fresh_copy(base, workdir, "corrupt-index")
    first = run_child("recall", folder)
    index = folder / f"{CHECKPOINTS}-recall.sqlite"
    outcome.expect(index.exists(), f"recall index not created at {index}: {first}")
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    garbage(index)
    count.injected += 1
    count.cases.append("corrupt recall index")
    report = run_child("recall", folder)
    hits = report.get("hits") or []
    kept_aside = list(folder.glob(f"{index.name}.corrupt-*"))
    if outcome.expect(
        report.get("stage") == "done" and any("lighthouse" in h for h in hits) and kept_aside,
        f"corrupt recall index not rebuilt: {report}, set aside: {kept_aside}",
    ):
        count.clear += 1

    outcome.figure = (
        f"{count.injected} storage faults injected ({summary(count.cases)}): {count.clear} "
        f"clear errors or rebuilds, {count.half_written} half-written records"
        + (f"; not run here: {', '.join(count.skipped)}" if count.skipped else "")
    )
    return outcome


if __name__ == "__main__":
    result = child(sys.argv[1], Path(sys.argv[2]), limit=int(sys.argv[3]) if sys.argv[3:] else None)
    print(json.dumps(result), flush=True)
