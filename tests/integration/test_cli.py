"""``langgraph-memgpt chat`` as a user runs it: a subprocess on a pipe, Ollama double behind it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from memgpt_integration import clean_env, stop_process
from ollama_double import Answer, send_message

pytestmark = pytest.mark.integration

TIMEOUT = 60
THREAD = "T"


def cli_command() -> list[str]:
    """The installed console script, next to this interpreter or on PATH."""
    script = Path(sys.executable).parent / "langgraph-memgpt"
    if script.exists():
        return [str(script)]
    found = shutil.which("langgraph-memgpt")
    if found:
        return [found]
    return [sys.executable, "-m", "langgraph_memgpt.cli"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(args: list[str], stdin: str, env: dict[str, str], cwd: Path) -> Result:
    process = subprocess.Popen(
        [*cli_command(), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(stdin, timeout=TIMEOUT)
    finally:
        stop_process(process)
    return Result(process.returncode, stdout, stderr)


def chat(db: Path, url: str, lines: list[str], cwd: Path) -> Result:
    env = clean_env(MEMGPT_OLLAMA_BASE_URL=url, XDG_DATA_HOME=str(cwd / "xdg"))
    stdin = "".join(line + "\n" for line in lines)
    return run_cli(["chat", "--thread", THREAD, "--db", str(db)], stdin, env, cwd)


def save_name_then_reply() -> list[Answer]:
    return [
        Answer(
            tool_calls=[
                {
                    "name": "core_memory_append",
                    "arguments": {
                        "label": "human",
                        "content": "Name: Ada",
                        "request_heartbeat": True,
                    },
                }
            ]
        ),
        send_message("Nice to meet you, Ada!"),
    ]


def describe(result: Result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def test_chat_edits_memory_and_continues_the_thread(make_double, tmp_path: Path) -> None:
    double = make_double(script=save_name_then_reply())
    db = tmp_path / "c.sqlite"

    first = chat(db, double.url, ["My name is Ada", "/memory", "/quit"], tmp_path)

    assert first.returncode == 0, describe(first)
    assert "Traceback" not in first.stderr, describe(first)
    out = first.stdout
    assert f"new thread '{THREAD}'" in out, describe(first)
    assert "assistant> Nice to meet you, Ada!" in out, describe(first)
    # The memory edit is shown as it happens: the call, then the block it changed.
    assert 'core_memory_append {"label": "human", "content": "Name: Ada"}' in out, describe(first)
    assert "core memory 'human'" in out, describe(first)
    # /memory prints the blocks, after the reply, with the saved text.
    after_reply = out.split("assistant> Nice to meet you, Ada!", 1)[1]
    assert "[persona]" in after_reply, describe(first)
    human_part = after_reply.split("[human]", 1)[1]
    assert "Name: Ada" in human_part, describe(first)
    assert len(double.chat_requests()) == 2
    assert db.exists()

    # Second run, same thread and file: the conversation continues.
    first_run_requests = len(double.chat_requests())
    double.script.append(send_message("Your name is Ada."))
    second = chat(db, double.url, ["What is my name?", "/quit"], tmp_path)

    assert second.returncode == 0, describe(second)
    assert f"continuing thread '{THREAD}'" in second.stdout, describe(second)
    assert "assistant> Your name is Ada." in second.stdout, describe(second)
    run2 = double.chat_requests()[first_run_requests:]
    assert len(run2) == 1
    prompt = run2[0]["messages"]
    user_texts = [m["content"] for m in prompt if m["role"] == "user"]
    assert "My name is Ada" in user_texts
    assert user_texts[-1] == "What is my name?"
    assert "Name: Ada" in prompt[0]["content"]


def test_chat_with_dead_ollama_exits_with_one_error_line(dead_url: str, tmp_path: Path) -> None:
    result = chat(tmp_path / "c.sqlite", dead_url, ["hello", "/quit"], tmp_path)

    assert result.returncode != 0, describe(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, describe(result)
    assert lines[0].startswith("error: "), describe(result)
    assert dead_url in lines[0], describe(result)
    assert "Traceback" not in result.stderr + result.stdout, describe(result)


def test_chat_error_stays_one_line_when_show_answer_is_unexpected(
    make_double, tmp_path: Path
) -> None:
    # A reachable server whose /api/show body lacks model_info (as tests/support's double
    # answers): ollama-python 0.6 rejects it with a multi-line pydantic ValidationError.
    double = make_double(show_body={"details": {"family": "double"}, "capabilities": ["tools"]})

    result = chat(tmp_path / "c.sqlite", double.url, ["hello", "/quit"], tmp_path)

    assert result.returncode != 0, describe(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, describe(result)
    assert lines[0].startswith("error: "), describe(result)
    assert double.url in lines[0], describe(result)
    assert "qwen3:4b" in lines[0], describe(result)
