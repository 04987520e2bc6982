"""``langgraph dockerfile`` turns this langgraph.json into a Dockerfile (no Docker engine needed).

That is the deployment path the README describes (``langgraph build`` / LangGraph Platform
run the same generation): the graph, the persistence factories and the HTTP app must all
reach the image's configuration, and the package must be installed from the repository.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from dev_server import langgraph_command
from memgpt_integration import REPO_ROOT, clean_env

pytestmark = pytest.mark.integration


def env_json(dockerfile: str, name: str) -> dict:
    found = re.search(rf"^ENV {name}='(.*)'$", dockerfile, re.MULTILINE)
    assert found, f"{name} is not set in the Dockerfile:\n{dockerfile}"
    return json.loads(found.group(1))


def test_langgraph_dockerfile_builds_from_this_config(tmp_path: Path) -> None:
    target = tmp_path / "Dockerfile"
    config = json.loads((REPO_ROOT / "langgraph.json").read_text())

    result = subprocess.run(
        [
            *langgraph_command(),
            "dockerfile",
            str(target),
            "--config",
            str(REPO_ROOT / "langgraph.json"),
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    dockerfile = target.read_text()
    assert dockerfile.startswith(f"FROM langchain/langgraph-api:{config['python_version']}")
    assert f"ADD . /deps/{REPO_ROOT.name}" in dockerfile  # the repository root is the package
    assert env_json(dockerfile, "LANGSERVE_GRAPHS")["memgpt"]["path"] == (
        "langgraph_memgpt.graph:graph"
    )
    assert env_json(dockerfile, "LANGGRAPH_CHECKPOINTER") == config["checkpointer"]
    assert env_json(dockerfile, "LANGGRAPH_STORE") == config["store"]
    assert env_json(dockerfile, "LANGGRAPH_HTTP") == config["http"]
