"""Find or build ``llama-server``, the embedded engine's binary, once per machine.

Where no Ollama answers, the agent runs a real model itself on llama.cpp's ``llama-server``
(see ``engine/server.py`` for why a server process rather than llama-cpp-python in-process).
The binary is found, in this order:

1. ``$MEMGPT_LLAMA_SERVER``: a path to a ``llama-server`` the user built or installed;
2. our build cache: ``<cache>/llama.cpp/<key>/llama-server`` (see :func:`cache_dir`);
3. ``llama-server`` on ``PATH`` (Homebrew, distribution packages);
4. otherwise it is built: the source is the ``llama-cpp-python`` sdist from the package
   registry (pip's own index, so a mirror configured for pip is used), which vendors a recent
   llama.cpp with ``tools/server``. Only the server target is built, statically linked, so the
   cached result is one file. On 2 cores it takes about 13 minutes; progress is shown.

The cache key holds the sdist version and the CPU features compiled in: the binary is built
for this machine's instruction set (AVX2, AVX-512 where present) but never with AMX, whose
tile registers a virtual machine may not grant (ggml's AMX kernels crash with SIGSEGV on the
first matrix product there; seen on this project's CI machines).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from langgraph_memgpt.errors import ModelUnavailableError

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
"""The llama-cpp-python sdist whose vendored llama.cpp is built (llama.cpp of 2026-10)."""
BINARY_ENV = "MEMGPT_LLAMA_SERVER"
CACHE_ENV = "MEMGPT_CACHE_DIR"
BINARY_NAME = "llama-server"
# x86 features ggml can compile in, by the /proc/cpuinfo flag that says the CPU has them.
_X86_FEATURES = {
    "GGML_AVX512": "avx512f",
    "GGML_AVX512_VBMI": "avx512vbmi",
    "GGML_AVX512_VNNI": "avx512_vnni",
    "GGML_AVX512_BF16": "avx512_bf16",
    "GGML_AVX_VNNI": "avx_vnni",
}
# Features ggml compiles in by default once GGML_NATIVE is off: switched off where the CPU
# lacks them (an older CPU would die of SIGILL), and left out of the options (so out of the
# cache key) where it has them.
_X86_BASELINE = {
    "GGML_SSE42": "sse4_2",
    "GGML_AVX": "avx",
    "GGML_AVX2": "avx2",
    "GGML_BMI2": "bmi2",
    "GGML_FMA": "fma",
    "GGML_F16C": "f16c",
}
_PROGRESS = re.compile(r"^\[\s*(\d+)%\]")

Progress = Callable[[str, int | None], None]
"""``progress(stage, percent)``: called as the build moves on (percent None when unknown)."""


class EngineBuildError(ModelUnavailableError):
    """The engine could not be built. The message is one line saying what is missing."""


def cache_root() -> Path:
    """``$MEMGPT_CACHE_DIR``, else ``$XDG_CACHE_HOME/langgraph-memgpt`` (``~/.cache/...``)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "langgraph-memgpt"


def cmake_options() -> list[str]:
    """The CMake options of our build: static, server only, this CPU's features minus AMX."""
    options = [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_SHARED_LIBS=OFF",
        "-DLLAMA_CURL=OFF",
        "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DGGML_NATIVE=OFF",  # -march=native would switch AMX on where the CPU lists it
        "-DGGML_AMX_TILE=OFF",
        "-DGGML_AMX_INT8=OFF",
        "-DGGML_AMX_BF16=OFF",
    ]
    flags = _cpu_flags()
    if flags:  # not x86 Linux (no /proc/cpuinfo flags): ggml's own defaults
        options.extend(
            f"-D{option}=OFF" for option, flag in _X86_BASELINE.items() if flag not in flags
        )
    for option, flag in _X86_FEATURES.items():
        options.append(f"-D{option}={'ON' if flag in flags else 'OFF'}")
    return options


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def cache_dir() -> Path:
    """Where our build of this version, for this CPU, lives."""
    key = hashlib.sha256(" ".join(cmake_options()).encode()).hexdigest()[:10]
    return cache_root() / "llama.cpp" / f"{LLAMA_CPP_PYTHON_VERSION}-{key}"


def find_llama_server() -> Path | None:
    """An existing ``llama-server`` (env, our cache, PATH), or None if it must be built."""
    configured = os.environ.get(BINARY_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EngineBuildError(
                f"{BINARY_ENV}={configured} is not an executable file; point it at a "
                "llama-server binary or unset it to use the built-in one"
            )
        return path
    cached = cache_dir() / BINARY_NAME
    if cached.is_file():
        return cached
    on_path = shutil.which(BINARY_NAME)
    return Path(on_path) if on_path else None


def ensure_llama_server(progress: Progress | None = None) -> Path:
    """The ``llama-server`` binary, built first if there is none (once per machine)."""
    found = find_llama_server()
    if found is not None:
        return found
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target / ".lock"):
        binary = target / BINARY_NAME
        if binary.is_file():  # another process built it while we waited for the lock
            return binary
        build_llama_server(target, progress or _print_progress)
    return binary


def missing_tools() -> list[str]:
    """Build tools that are not installed (names as the user would install them)."""
    missing = [tool for tool in ("cmake",) if shutil.which(tool) is None]
    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        missing.append("a C++ compiler (g++ or clang++)")
    return missing


def build_llama_server(target: Path, progress: Progress) -> None:
    """Download the sdist, build ``llama-server`` in a temporary folder, install it in
    ``target`` (atomically: a half-built binary is never left where it would be found)."""
    missing = missing_tools()
    if missing:
        raise EngineBuildError(
            "cannot build the local engine (llama-server): install "
            + " and ".join(missing)
            + f", or set {BINARY_ENV} to an existing llama-server"
        )
    log_path = target / "build.log"
    with tempfile.TemporaryDirectory(prefix="memgpt-llama-build-") as work_dir:
        work = Path(work_dir)
        with open(log_path, "w") as log:
            progress("downloading llama.cpp source (llama-cpp-python sdist)", None)
            sdist = _download_sdist(work, log, log_path)
            progress("unpacking", None)
            source = _unpack_vendored_llama_cpp(sdist, work / "src")
            progress("configuring", None)
            build = work / "build"
            _run(
                ["cmake", "-S", str(source), "-B", str(build), *cmake_options()],
                log,
                log_path,
                "cmake configure",
            )
            jobs = str(max(1, os.cpu_count() or 1))
            _run(
                ["cmake", "--build", str(build), "--target", BINARY_NAME, "-j", jobs],
                log,
                log_path,
                "compile",
                on_line=lambda line: _report_percent(line, progress),
            )
        built = build / "bin" / BINARY_NAME
        if not built.is_file():
            raise EngineBuildError(f"the build finished without {BINARY_NAME}; see {log_path}")
        staged = target / f".{BINARY_NAME}.tmp"
        shutil.copy2(built, staged)
        staged.replace(target / BINARY_NAME)
    progress("done", 100)


def _download_sdist(work: Path, log: TextIO, log_path: Path) -> Path:
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
            "-d",
            str(work),
        ],
        log,
        log_path,
        "download of the llama-cpp-python sdist from the package index",
    )
    found = sorted(work.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        raise EngineBuildError(f"pip downloaded no llama-cpp-python sdist; see {log_path}")
    return found[0]


def _unpack_vendored_llama_cpp(sdist: Path, into: Path) -> Path:
    """Extract only ``vendor/llama.cpp`` (the Python bindings are not needed)."""
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if "/vendor/llama.cpp/" in m.name + "/"]
        if not members:
            raise EngineBuildError(f"{sdist.name} has no vendor/llama.cpp folder")
        archive.extractall(into, members=members, filter="data")
    roots = list(into.glob("*/vendor/llama.cpp"))
    if not roots:
        raise EngineBuildError(f"{sdist.name} has no vendor/llama.cpp folder")
    return roots[0]


def _run(
    command: list[str],
    log: TextIO,
    log_path: Path,
    stage: str,
    on_line: Callable[[str], None] | None = None,
) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    tail: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                log.write(line)
                tail = [*tail[-19:], line.rstrip()]
                if on_line is not None:
                    on_line(line)
        except BaseException:
            process.kill()  # a Ctrl-C or a full disk: leave no compiler running
            raise
    if process.returncode != 0:
        log.flush()
        reason = _first_error(tail)
        raise EngineBuildError(
            f"building llama-server failed at {stage}: {reason} (log: {log_path})"
        )


def _first_error(lines: list[str]) -> str:
    for line in lines:
        if re.search(r"error|not found|could not|No matching", line, re.IGNORECASE):
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "no output"


def _report_percent(line: str, progress: Progress) -> None:
    match = _PROGRESS.match(line)
    if match:
        progress("compiling llama-server", int(match.group(1)))


def _print_progress(stage: str, percent: int | None) -> None:
    """Default progress on stderr: a line per stage, then the percentage as it changes
    (in place on a terminal, every 10% in a log)."""
    if percent is None or stage == "done":
        print(f"[engine] {stage}...", file=sys.stderr, flush=True)
        return
    last = getattr(_print_progress, "last", -1)
    tty = sys.stderr.isatty()
    if percent == last or (not tty and percent < last + 10 and percent < 100):
        return
    _print_progress.last = percent  # type: ignore[attr-defined]
    if tty:
        end = "\n" if percent >= 100 else ""
        print(f"\r[engine] {stage}: {percent:3d}%", end=end, file=sys.stderr, flush=True)
    else:
        print(f"[engine] {stage}: {percent}%", file=sys.stderr, flush=True)


@contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """One holder per machine at a time of ``lock_path`` (an flock): one build, one model
    assembly (tests and a chat may start them together)."""
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
