"""A SQLite connection with sqlite-vec loaded, whatever this Python's sqlite3 can do.

Many Python builds (pyenv's default, python.org's macOS installer) ship a ``sqlite3`` that
cannot load extensions, or one older than SQLite 3.43 (FTS5's ``contentless_delete``, which
the archive and the recall index use to keep no second copy of their texts). Then
``pysqlite3`` (the ``pysqlite3-binary`` wheel on Linux, a dependency there) is used; if neither
can, the error names the fix.

Storage faults get clear errors too: :func:`check_database_file` rejects a file that is not
an SQLite database or was cut short before SQLite reads it, and :func:`storage_error`
turns SQLite's terse errors (read-only, disk full, corrupted, cannot open) into a
:class:`StorageError` that names the file, the problem and the fix. Writes are transactions,
so a failed write leaves the file as it was before it.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

FIX = (
    "sqlite-vec needs a SQLite driver (SQLite 3.43 or newer) that can load extensions, and "
    "this Python's sqlite3 cannot. On Linux: pip install pysqlite3-binary. On macOS: use a "
    "Python built with loadable SQLite extensions (Homebrew's python, or pyenv with "
    'PYTHON_CONFIGURE_OPTS="--enable-loadable-sqlite-extensions"), or pip install '
    "sqlean.py."
)


MIN_SQLITE = (3, 43, 0)


def _drivers() -> list[Any]:
    drivers: list[Any] = []
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        drivers.append(sqlite3)
    for name in ("pysqlite3.dbapi2", "sqlean"):
        try:
            module = __import__(name, fromlist=["connect"])
        except ImportError:
            continue
        drivers.append(module)
    return [d for d in drivers if d.sqlite_version_info >= MIN_SQLITE]


def connect(path: str, *, load_vec: bool = True) -> Any:
    """Open ``path`` (WAL is set by the caller) with sqlite-vec loaded, or with a recent enough
    SQLite only (``load_vec=False``, for the recall index)."""
    import sqlite_vec

    problems = []
    for driver in _drivers():
        conn = driver.connect(path, check_same_thread=False, timeout=30)
        if not load_vec:
            return conn
        try:
            conn.enable_load_extension(True)
            sqlite_vec.load(conn)
            conn.enable_load_extension(False)
            return conn
        except Exception as error:  # try the next driver
            problems.append(f"{driver.__name__}: {error}")
            conn.close()
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise RuntimeError(FIX + detail)


class StorageError(RuntimeError):
    """A memory file cannot be used: names the file, what is wrong and how to fix it."""

    def __init__(self, message: str, path: str | Path, problem: str) -> None:
        super().__init__(message)
        self.path = str(path)
        self.problem = problem
        """``read-only``, ``disk full``, ``corrupted`` or ``cannot open``."""


WRITE_FAILURES = frozenset(
    {"SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_TRUNCATE", "SQLITE_IOERR_SHMSIZE"}
)
"""SQLite's names for a write the OS refused: ENOSPC, EDQUOT and EFBIG (a file size limit)
all end here (SQLite maps only some ENOSPC to SQLITE_FULL)."""

SQLITE_HEADER = b"SQLite format 3\x00"


def check_database_file(path: str | Path, what: str, fix: str) -> None:
    """Raise StorageError if ``path`` exists but is not a whole SQLite database.

    Reads the 100-byte header only (constant time, whatever the file size): a file that does
    not start with SQLite's magic string, or is shorter than the page count its header
    records, is refused before SQLite touches it. The length check is skipped while a WAL
    file with content exists (pages may still live only there); an empty file is a new
    database.
    """
    target = Path(path)
    if str(path) == ":memory:" or not target.exists() or target.stat().st_size == 0:
        return
    with target.open("rb") as handle:
        header = handle.read(100)
    if not header.startswith(SQLITE_HEADER):
        raise StorageError(
            f"{what} {target} is not an SQLite database (it is corrupted or another kind of "
            f"file). {fix}",
            target,
            "corrupted",
        )
    if len(header) < 100:
        raise StorageError(
            f"{what} {target} is cut short ({target.stat().st_size} bytes, less than an SQLite "
            f"header). {fix}",
            target,
            "corrupted",
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only when "version-valid-for" matches the change counter.
    valid = header[92:96] == header[24:28] and pages > 0
    wal = Path(f"{target}-wal")
    wal_has_pages = wal.exists() and wal.stat().st_size > 0
    size = target.stat().st_size
    if valid and not wal_has_pages and size < pages * page_size:
        raise StorageError(
            f"{what} {target} is truncated: its header records {pages} pages of {page_size} "
            f"bytes ({pages * page_size} bytes) but the file has {size} bytes. {fix}",
            target,
            "corrupted",
        )


def storage_error(
    error: BaseException, path: str | Path, what: str, setting: str
) -> StorageError | None:
    """A clear StorageError for an SQLite (or OS) error on ``path``, or None for other errors.

    ``what`` names the file for a person ("archive", "checkpoint file"); ``setting`` is the
    environment variable that chooses it.
    """
    if isinstance(error, StorageError):
        return None
    name = str(getattr(error, "sqlite_errorname", "") or "")
    text = str(error)
    lowered = text.lower()
    code = getattr(error, "errno", None)
    is_sqlite = (
        any("DatabaseError" in c.__name__ or c.__name__ == "Error" for c in type(error).__mro__)
        and "sqlite" in type(error).__module__
    )
    if not (is_sqlite or isinstance(error, OSError)):
        return None
    if (
        name.startswith("SQLITE_READONLY")
        or "readonly database" in lowered
        or code
        in (
            errno.EROFS,
            errno.EACCES,
            errno.EPERM,
        )
    ):
        return StorageError(
            f"{what} {path} is read-only ({text}); nothing was written. Fix: give this user "
            "write access to the file, its folder and its -wal/-shm files (SQLite writes "
            f"them too), or set {setting} to a writable location.",
            path,
            "read-only",
        )
    if (
        name.startswith("SQLITE_FULL")
        or "disk is full" in lowered
        or code
        in (
            errno.ENOSPC,
            errno.EFBIG,
            errno.EDQUOT,
        )
    ):
        return StorageError(
            f"{what} {path}: the disk is full ({text}); the write was rolled back, nothing of "
            "it was stored. Fix: free disk space (or raise the file size limit or quota) and "
            "try again.",
            path,
            "disk full",
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or any(
        words in lowered for words in ("malformed", "not a database", "corrupt")
    ):
        return StorageError(
            f"{what} {path} is corrupted ({text}). Fix: restore it from a backup, or move it "
            f"aside (then a new empty one is created; set {setting} to choose another file).",
            path,
            "corrupted",
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in lowered:
        return StorageError(
            f"cannot open {what} {path} ({text}). Fix: its folder must exist and be writable "
            f"(SQLite creates -wal and -shm files next to it), or set {setting} to another "
            "file.",
            path,
            "cannot open",
        )
    if name in WRITE_FAILURES:
        return StorageError(
            f"{what} {path}: writing failed ({text}, {name}): the disk is full, or a quota or "
            "file size limit was reached, or the disk is failing; the write was rolled back, "
            "nothing of it was stored. Fix: free disk space (or raise the limit) and try again.",
            path,
            "disk full",
        )
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in lowered:
        # SQLite reports a write the OS refused for lack of space (or over a file size limit
        # or quota) as a plain I/O error on connections without extended result codes.
        return StorageError(
            f"{what} {path}: reading or writing the file failed ({text}, "
            f"{name or 'no code'}): the disk is full, or a quota or file size limit was "
            "reached, or the disk is failing; a write in progress was rolled back, nothing of "
            "it was stored. Fix: free disk space (or raise the limit), check the disk, and try "
            "again.",
            path,
            "i/o error",
        )
    return None


__all__ = ["FIX", "StorageError", "check_database_file", "connect", "storage_error"]
