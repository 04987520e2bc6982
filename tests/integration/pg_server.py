"""A throwaway PostgreSQL server for tests: initdb + pg_ctl on a temporary directory and a
free port, started and stopped by the test session itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from memgpt_integration import get_free_port


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb refuses to run as root; CI and these machines run as root.
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL server; everything is deleted afterwards."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found: install PostgreSQL (Debian: postgresql)")
    workdir = tempfile.mkdtemp(prefix="memgpt-pg-", dir="/tmp")
    data = os.path.join(workdir, "data")
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    port = get_free_port()
    subprocess.run(
        _as_postgres_user(["initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres_user(
            [
                "pg_ctl",
                "-D",
                data,
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "-l",
                os.path.join(workdir, "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres_user(["pg_ctl", "-D", data, "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(workdir, ignore_errors=True)
