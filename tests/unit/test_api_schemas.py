"""The HTTP API's declared "not blank" rule is the handlers' rule, in every validator's dialect.

The handlers refuse a message or query that ``str.strip()`` empties; the OpenAPI document says
the same with a pattern. A client (or schemathesis) checks that pattern with its own regex
engine, so the two must agree in Python's ``re`` and in jsonschema-rs alike (with a plain
``\\S``, jsonschema-rs took U+3000 or U+001F alone for text, which the handlers refuse).
"""

from __future__ import annotations

import re
import sys

import jsonschema_rs
from langgraph_memgpt.server.schemas import NOT_BLANK

EDGE_CASES = ["", "a", " a ", "\ufeff", "\u200b", "\u180e", "\x1f\x1e", "\u3000\u3000x"]
"""Besides every whitespace character: texts at the edge of the rule (U+FEFF is ECMAScript
whitespace but not Python's; U+200B and U+180E are whitespace in neither)."""


def test_not_blank_means_what_strip_means_in_python_and_in_jsonschema_rs() -> None:
    pattern = re.compile(NOT_BLANK["pattern"])
    everything = [chr(code) for code in range(sys.maxunicode + 1)]
    assert [c for c in everything if bool(pattern.search(c)) != bool(c.strip())] == []

    validator = jsonschema_rs.validator_for({"type": "string", **NOT_BLANK})
    texts = [c for c in everything if c.isspace()] + EDGE_CASES
    assert [t for t in texts if validator.is_valid(t) != bool(t.strip())] == []
