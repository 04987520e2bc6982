"""Isolation promise: user A's memory never reaches user B (see isolation_promise.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from isolation_promise import check
from langgraph_memgpt.server.auth import AuthConfigError, load_api_keys

KEY_A = "a" * 16
KEY_B = "b" * 20


@pytest.mark.integration
def test_isolation_promise(tmp_path: Path, record_property: Any) -> None:
    outcome = check(tmp_path)

    print(outcome.figure)
    record_property("terminal_summary", f"{outcome.promise}: {outcome.figure}")
    assert outcome.kept, outcome.explain()


def test_api_keys_from_the_environment_and_a_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"# team\n{KEY_B}:bob\n\n{'c' * 16}:openwebui:42  # a user id with ':'\n")

    keys = load_api_keys(
        {"MEMGPT_API_KEYS": f"{KEY_A}:alice", "MEMGPT_API_KEYS_FILE": str(keys_file)}
    )

    assert keys == {KEY_A: "alice", KEY_B: "bob", "c" * 16: "openwebui:42"}
    assert load_api_keys({}) == {}  # no keys: single-user local mode


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("short:alice", "at least 16"),
        (f"{KEY_A}", "not 'key:user'"),
        (f"{KEY_A}:", "not 'key:user'"),
        (f"{KEY_A}:al ice", "invalid user id"),
        (f"{KEY_A}:alice,{KEY_A}:bob", "one key is given to"),
    ],
)
def test_a_bad_key_list_stops_the_server_with_a_clear_error(value: str, words: str) -> None:
    with pytest.raises(AuthConfigError, match=words) as error:
        load_api_keys({"MEMGPT_API_KEYS": value})

    assert KEY_A not in str(error.value)  # keys are never echoed into logs


def test_an_unreadable_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="cannot read"):
        load_api_keys({"MEMGPT_API_KEYS_FILE": str(tmp_path / "missing")})


def test_a_key_authenticated_run_searches_its_own_archive_whatever_the_context_says() -> None:
    from langgraph.store.memory import InMemoryStore
    from langgraph_memgpt.graph import Context
    from langgraph_memgpt.memory.archive import AUTH_USER_PERMISSION
    from langgraph_memgpt.tools.archival import SearchArgs, archival_memory_search
    from langgraph_memgpt.tools.base import ToolContext

    store = InMemoryStore()
    store.put(("archival", "alice"), "p1", {"content": "Alice's locker code is 7731.", "tags": []})
    store.put(("archival", "bob"), "p2", {"content": "Bob's bike is green.", "tags": []})

    def search(permissions: list[str]) -> str:
        configurable = {
            "langgraph_auth_user_id": "bob",
            "langgraph_auth_permissions": permissions,
        }
        ctx = ToolContext(
            blocks={},
            context=Context(user_id="alice"),  # what a run's context claims
            store=store,
            config={"configurable": configurable},
            state={},
        )
        return archival_memory_search(SearchArgs(query="locker code 7731"), ctx).text

    assert "Bob's bike" in search([AUTH_USER_PERMISSION])  # bound to the key's user
    assert "Alice's locker" not in search([AUTH_USER_PERMISSION])
    # Single-user local mode (no API keys): the context picks the archive, as Studio does.
    assert "Alice's locker" in search(["memgpt:local"])
