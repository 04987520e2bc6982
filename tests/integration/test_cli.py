"""``langgraph-memgpt`` as a user runs it: subprocesses on pipes, the Ollama double behind them.

``chat`` (memory edits, /memory, /search, /export, continuing a thread), ``status``,
``export`` and ``import`` on real SQLite files with the real embedding model.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from memgpt_integration import clean_env, stop_process
from ollama_double import Answer, memory_text, send_message, user_texts

pytestmark = pytest.mark.integration

TIMEOUT = 180
"""Seconds per command: loading the embedding model alone takes 15-25 s on a busy 2-core box."""
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


def cli_env(cwd: Path, url: str = "http://127.0.0.1:9") -> dict[str, str]:
    return clean_env(MEMGPT_OLLAMA_BASE_URL=url, XDG_DATA_HOME=str(cwd / "xdg"))


def chat(
    db: Path, url: str, lines: list[str], cwd: Path, *, thread: str = THREAD, extra: tuple = ()
) -> Result:
    stdin = "".join(line + "\n" for line in lines)
    args = ["chat", "--thread", thread, "--db", str(db), *extra]
    return run_cli(args, stdin, cli_env(cwd, url), cwd)


def command(args: list[str], cwd: Path) -> Result:
    """A command that needs no model (status, export, import)."""
    return run_cli(args, "", cli_env(cwd), cwd)


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
    users = user_texts(prompt)
    assert "My name is Ada" in users
    assert users[-1] == "What is my name?"
    assert "Name: Ada" in memory_text(prompt)


def test_chat_with_dead_ollama_keeps_its_commands_and_fails_turns_in_one_line(
    dead_url: str, tmp_path: Path
) -> None:
    result = chat(
        tmp_path / "c.sqlite",
        dead_url,
        ["/memory", "hello", "/quit"],
        tmp_path,
        extra=("--model", "ollama:qwen3:4b"),
    )

    assert result.returncode == 0, describe(result)
    assert "Traceback" not in result.stderr + result.stdout, describe(result)
    out = result.stdout.splitlines()
    warnings = [line for line in out if line.startswith("warning: ")]
    assert len(warnings) == 1 and dead_url in warnings[0], describe(result)
    assert "[persona]" in result.stdout, describe(result)  # /memory works without a model
    errors = [line.removeprefix("you> ") for line in out if "error: " in line]
    assert len(errors) == 1 and errors[0].startswith("error: "), describe(result)
    assert dead_url in errors[0], describe(result)  # the failed turn, in one line


def test_chat_warning_stays_one_line_when_show_answer_is_unexpected(
    make_double, tmp_path: Path
) -> None:
    # A reachable server whose /api/show body lacks model_info (as tests/support's double
    # answers): ollama-python 0.6 rejects it with a multi-line pydantic ValidationError.
    double = make_double(show_body={"details": {"family": "double"}, "capabilities": ["tools"]})

    result = chat(tmp_path / "c.sqlite", double.url, ["/quit"], tmp_path)

    assert result.returncode == 0, describe(result)
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, describe(result)
    assert double.url in warnings[0] and "qwen3:4b" in warnings[0], describe(result)
    assert "Traceback" not in result.stderr + result.stdout, describe(result)


def test_a_provider_whose_package_is_missing_is_one_line(tmp_path: Path) -> None:
    # Mistral's package: no dependency of the dev extras brings it (langmem brings
    # langchain-anthropic, which this test used until then). Checked, so the test cannot
    # pass for the wrong reason if some package starts to bring it too.
    assert importlib.util.find_spec("langchain_mistralai") is None, "pick another provider"
    result = chat(
        tmp_path / "c.sqlite",
        "http://127.0.0.1:9",
        ["/quit"],
        tmp_path,
        extra=("--model", "mistralai:mistral-small-latest"),
    )

    assert result.returncode == 0, describe(result)
    assert "Traceback" not in result.stderr + result.stdout, describe(result)
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "pip install langchain-mistralai" in warnings[0], describe(result)


def remember_sister_then_reply() -> list[Answer]:
    return [
        Answer(
            tool_calls=[
                {
                    "name": "archival_memory_insert",
                    "arguments": {
                        "content": "Ada's sister Alice lives in Lisbon.",
                        "tags": ["family"],
                        "request_heartbeat": True,
                    },
                }
            ]
        ),
        send_message("Noted: Alice lives in Lisbon."),
    ]


def test_chat_search_and_export_commands(make_double, tmp_path: Path) -> None:
    double = make_double(script=remember_sister_then_reply())
    db, archive = tmp_path / "c.sqlite", tmp_path / "a.sqlite"

    result = chat(
        db,
        double.url,
        ["My sister Alice lives in Lisbon", "/search sister Lisbon", "/export mine.json", "/quit"],
        tmp_path,
        extra=("--user", "ada", "--archive", str(archive)),
    )

    assert result.returncode == 0, describe(result)
    out = result.stdout
    assert "/search QUERY" in out and "/export [FILE]" in out, describe(result)
    searched = out.split("[conversation_search]", 1)[1]
    recall, archival = searched.split("[archival_memory_search]", 1)
    assert "[user, " in recall and "My sister Alice lives in Lisbon" in recall, describe(result)
    assert "tags: family" in archival, describe(result)
    assert "Ada's sister Alice lives in Lisbon." in archival, describe(result)
    assert f"exported thread '{THREAD}' of user 'ada'" in out, describe(result)
    document = json.loads((tmp_path / "mine.json").read_text())
    said = [m["data"]["content"] for m in document["history"] if m["type"] == "human"]
    assert said == ["My sister Alice lives in Lisbon"]
    (passage,) = document["archival"]["passages"]
    assert passage["value"]["content"] == "Ada's sister Alice lives in Lisbon."


def test_status_export_and_import_commands(make_double, tmp_path: Path) -> None:
    double = make_double(script=remember_sister_then_reply())
    db, archive = tmp_path / "c.sqlite", tmp_path / "a.sqlite"
    storage = ["--db", str(db), "--archive", str(archive)]
    made = chat(
        db,
        double.url,
        ["My sister Alice lives in Lisbon", "/quit"],
        tmp_path,
        extra=("--user", "ada", "--archive", str(archive)),
    )
    assert made.returncode == 0, describe(made)

    table = command(["status", "--thread", THREAD, "--user", "ada", *storage], tmp_path)
    assert table.returncode == 0, describe(table)
    rows = dict(
        (line[:17].strip(), line[17:].strip()) for line in table.stdout.splitlines() if line
    )
    assert rows["model"] == "auto", describe(table)  # as configured (the default)
    assert rows["context window"] == "8192 tokens"
    assert rows["recall memory"] == "5 messages"  # user, insert call + result, reply + result
    assert rows["archival memory"].startswith("1 passages")
    assert re.fullmatch(r"\d+/8192 \(\d+%\)", rows["token budget"]), describe(table)
    assert {"system", "core memory", "tools", "summary", "queue"} <= set(rows)
    assert rows["checkpoints"] == str(db.resolve()) and rows["archive"] == str(archive.resolve())
    raw = command(["status", "--thread", THREAD, "--user", "ada", "--json", *storage], tmp_path)
    status = json.loads(raw.stdout)
    assert (status["recall_messages"], status["archival_passages"]) == (5, 1)
    assert status["budget"]["budget"] == int(rows["token budget"].split("/")[0])

    exported = command(["export", "--thread", THREAD, "--user", "ada", *storage], tmp_path)
    assert exported.returncode == 0, describe(exported)
    document = json.loads(exported.stdout)  # stdout by default; the summary line on stderr
    assert document["schema_version"] == 1 and len(document["history"]) == 5
    assert "exported thread 'T' of user 'ada' (5 messages" in exported.stderr
    file = tmp_path / "ada.json"
    to_file = command(
        ["export", "--thread", THREAD, "--user", "ada", "-o", str(file), *storage], tmp_path
    )
    assert to_file.returncode == 0, describe(to_file)
    assert json.loads(file.read_text())["history"] == document["history"]

    new_db, new_archive = tmp_path / "new.sqlite", tmp_path / "new-archive.sqlite"
    new_storage = ["--db", str(new_db), "--archive", str(new_archive)]
    imported = command(["import", str(file), "--thread", "T2", *new_storage], tmp_path)
    assert imported.returncode == 0, describe(imported)
    assert "imported thread 'T2' of user 'ada': 5 messages (5 in context), 1 archival" in (
        imported.stdout
    )
    assert "history: [" in imported.stderr and "5/5 messages" in imported.stderr
    assert "archive: [" in imported.stderr and "1/1 passages" in imported.stderr
    copied = command(
        ["status", "--thread", "T2", "--user", "ada", "--json", *new_storage], tmp_path
    )
    copy_status = json.loads(copied.stdout)
    for key in ("budget", "recall_messages", "archival_passages", "model", "context_window"):
        assert copy_status[key] == status[key], key

    # A thread with memory is refused at once (before loading any model), then replaced.
    again = command(["import", str(file), "--thread", "T2", *new_storage], tmp_path)
    assert again.returncode == 1, describe(again)
    assert again.stderr.strip().count("\n") == 0 and "--force" in again.stderr, describe(again)
    forced = command(["import", str(file), "--thread", "T2", "--force", *new_storage], tmp_path)
    assert forced.returncode == 0, describe(forced)
    assert "replaced the existing thread" in forced.stdout

    # A file from an unknown schema version is refused with one line.
    future = tmp_path / "future.json"
    future.write_text(json.dumps({**document, "schema_version": 99}))
    refused = command(["import", str(future), "--thread", "T3", *new_storage], tmp_path)
    assert refused.returncode == 1, describe(refused)
    assert refused.stderr.strip().count("\n") == 0 and "schema_version 99" in refused.stderr

    # The imported agent continues the conversation from the same memory.
    double.script.append(send_message("Alice lives in Lisbon."))
    requests_before = len(double.chat_requests())
    follow_up = chat(
        new_db,
        double.url,
        ["Where does my sister live?", "/quit"],
        tmp_path,
        thread="T2",
        extra=("--user", "ada", "--archive", str(new_archive)),
    )
    assert follow_up.returncode == 0, describe(follow_up)
    assert "continuing thread 'T2'" in follow_up.stdout, describe(follow_up)
    (request,) = double.chat_requests()[requests_before:]
    users = user_texts(request["messages"])
    assert users == ["My sister Alice lives in Lisbon", "Where does my sister live?"]
    # The archive came along: its tools are offered (only with a store), and the thread's
    # prompt is as exported (the memory note's counts as of its last fold, before the insert).
    assert "archival_memory_search" in {t["function"]["name"] for t in request["tools"]}


def test_a_corrupted_checkpoint_file_is_one_error_line(tmp_path: Path) -> None:
    db = tmp_path / "broken.sqlite"
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 100)

    result = command(["status", "--thread", THREAD, "--db", str(db)], tmp_path)

    assert result.returncode == 1, describe(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), describe(result)
    assert str(db) in lines[0] and "Fix" in lines[0], describe(result)


def test_chat_without_ollama_talks_with_the_embedded_engine(dead_url: str, tmp_path: Path) -> None:
    """A fresh machine: no Ollama answers, so the chat says so and runs a local model."""
    env = {**cli_env(tmp_path, dead_url), "MEMGPT_LOCAL_MODEL": "smollm2-135m"}
    args = ["chat", "--thread", THREAD, "--db", str(tmp_path / "c.sqlite")]
    result = run_cli(args, "Hello! Who are you?\n/memory\n/quit\n", env, tmp_path)

    assert result.returncode == 0, describe(result)
    assert "Traceback" not in result.stderr + result.stdout, describe(result)
    out = result.stdout
    assert f"Ollama is not reachable at {dead_url}" in out, describe(result)
    assert "using the embedded llama.cpp engine with smollm2-135m" in out, describe(result)
    assert "MEMGPT_MODEL" in out, describe(result)
    assert "model llamacpp:smollm2-135m" in out, describe(result)
    # The real model answered the turn (its words vary), then /memory showed the blocks.
    assert "assistant> " in out, describe(result)
    assert "[persona]" in out.split("assistant> ", 1)[1], describe(result)
