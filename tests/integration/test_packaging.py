"""The wheel holds one top-level package, ``langgraph_memgpt``, and installs like any other.

The repository root is the package (setuptools maps ``langgraph_memgpt`` to ``.``), so a
packaging slip would put ``graph/``, ``nodes/`` or ``tools/`` at the top of site-packages.
The wheel is built from a copy of the checkout so the build leaves nothing in the repository.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from memgpt_integration import REPO_ROOT, clean_env, stop_process

pytestmark = pytest.mark.integration

TIMEOUT = 120
PACKAGE = "langgraph_memgpt"
EXPECTED_FILES = [
    "graph/builder.py",
    "nodes/reason.py",
    "tools/core_memory.py",
    "checkpoints/sqlite.py",
    "__init__.py",
    "cli/main.py",
    "memory/archive.py",
    "search/recall_index.py",
    "portability/document.py",
    "_compat.py",
    "py.typed",
]
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".import_linter_cache",
    ".langgraph_api",
    ".venv",
    ".venv-*",
    "venv",
    "artifacts",
    "*.sqlite",
    "*.sqlite-*",
)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env or clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    finally:
        stop_process(process)
    assert process.returncode == 0, f"{' '.join(command)} failed:\n{output[-6000:]}"
    return output


def _setuptools_ok() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 68


def build_wheel(source: Path, outdir: Path) -> Path:
    if importlib.util.find_spec("build") is not None and _setuptools_ok():
        # Offline: use this environment's setuptools (`wheel` is not needed by setuptools>=70).
        command = [sys.executable, "-m", "build", "--wheel", "--no-isolation"]
        command += ["--skip-dependency-check", "--outdir", str(outdir), str(source)]
    else:  # no `build` here: let pip fetch the build backend from the package index
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(outdir)]
        command.append(str(source))
    run(command, cwd=source)
    wheels = list(outdir.glob("langgraph_memgpt-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("packaging")
    source = base / "src"
    shutil.copytree(REPO_ROOT, source, ignore=COPY_IGNORE)
    return build_wheel(source, base / "dist")


def test_wheel_has_only_the_langgraph_memgpt_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()

    top_level = {name.split("/", 1)[0] for name in names}
    dist_info = {name for name in top_level if name.endswith(".dist-info")}
    assert len(dist_info) == 1 and next(iter(dist_info)).startswith("langgraph_memgpt-")
    assert top_level - dist_info == {PACKAGE}, sorted(top_level)
    for path in EXPECTED_FILES:
        assert f"{PACKAGE}/{path}" in names, path
    assert not [n for n in names if n.startswith(f"{PACKAGE}/tests/")], "tests were packaged"

    with zipfile.ZipFile(wheel) as archive:
        info = next(iter(dist_info))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert "langgraph-memgpt = langgraph_memgpt.cli.main:main" in entry_points


def test_wheel_installs_and_imports_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        tmp_path,
    )
    python = venv / "bin" / "python"
    site_packages = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            tmp_path,
        ).strip()
    )
    # The dependencies live in the test environment (itself a venv, which
    # --system-site-packages does not reach): a plain path entry exposes them without running
    # that environment's .pth files, so its editable install of this package stays out.
    deps = sysconfig.get_paths()["purelib"]
    (site_packages / "_test_dependencies.pth").write_text(deps + os.linesep)

    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    run([*install, "--no-build-isolation", "--no-index", str(wheel)], tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = "import langgraph_memgpt, sys; print(langgraph_memgpt.__file__)"
    imported = Path(run([str(python), "-c", code], elsewhere).strip().splitlines()[-1])
    assert imported == site_packages / PACKAGE / "__init__.py"
    assert REPO_ROOT not in imported.parents

    # The installed modules resolve inside the package, and the console script works.
    # (import_module: the attribute langgraph_memgpt.graph is the compiled graph, so
    # `import langgraph_memgpt.graph.builder as b` cannot be used.)
    code = "import importlib, sys; print(importlib.import_module(sys.argv[1]).__file__)"
    output = run([str(python), "-c", code, f"{PACKAGE}.graph.builder"], elsewhere)
    builder = Path(output.strip().splitlines()[-1])
    assert builder == site_packages / PACKAGE / "graph" / "builder.py"
    help_text = run([str(venv / "bin" / "langgraph-memgpt"), "chat", "--help"], elsewhere)
    assert "--thread" in help_text
