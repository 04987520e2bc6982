"""A SQLite connection with sqlite-vec loaded, whatever this Python's sqlite3 can do.

Many Python builds (pyenv's default, python.org's macOS installer) ship a ``sqlite3`` that
cannot load extensions, or one older than SQLite 3.43 (FTS5's ``contentless_delete``, which
the archive and the recall index use to keep no second copy of their texts). Then
``pysqlite3`` (the ``pysqlite3-binary`` wheel on Linux, a dependency there) is used; if neither
can, the error names the fix.
"""

from __future__ import annotations

import sqlite3
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
