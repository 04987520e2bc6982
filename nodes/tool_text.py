"""Tool calls written as text: find them in a model's answer and turn them into real calls.

Small local models often answer a tool-calling prompt with the call as plain text, and the
server hands that text back as the reply. Seen on llama.cpp and Ollama with Qwen2.5-Coder
0.5B/1.5B, and in other agents' issue trackers:

- the bare object as the whole answer: ``{"name": "send_message", "arguments": {...}}``
  (also ``"parameters"``/``"args"``/``"input"`` for the arguments, or the arguments at the top
  level next to ``"name"``, or OpenAI's ``{"type": "function", "function": {...}}``);
- the same object with doubled braces, copied from a Python format string:
  ``{{"name": ..., "arguments": {...}}}``;
- a list of such objects, or several objects one after another;
- inside a Markdown fence (```json ... ```), or inside ``<tool_call>...</tool_call>`` tags
  (Qwen's and Hermes' own format, which a server without the right parser passes through);
- with text before or after the call ("Sure! Let me save that. {...}");
- with its last closing brace(s) missing: ``{"name": "send_message", "arguments": {...}``
  (Qwen2.5-Coder-0.5B on llama.cpp, often once it has started doing it), when the answer is
  the call alone (or a tagged or fenced block is).

A tool result's markup copied into the answer (``<tool_response>...</tool_response>``, how
Qwen's template shows results) is cut out too: seen from Qwen2.5-Coder-1.5B late in long
conversations, it is never a reply; an answer that was only that is an error the model sees.

``parse_text_calls`` is pure and never raises: it returns the calls it could read, the text
left around them (kept as the model's inner monologue, never shown to the user), and, for text
that clearly tries to be a call but is not valid JSON, the error the model is told so it can
write the call again. A call repeated word for word in one answer is kept once. A JSON object
that is not call-shaped (a ``"name"`` without arguments and no known tool of that name) is
left alone: a plain answer may contain JSON.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_ECHOED = re.compile(r"<tool_response>.*?(?:</tool_response>|$)", re.DOTALL)
ECHO_ERROR = (
    "your answer repeated a tool result (<tool_response>...); tool results come from the "
    "tools. To answer the user, call send_message"
)
_FENCED = re.compile(r"```[ \t]*([A-Za-z_]*)[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input", "tool_input")
_NAME_KEYS = ("name", "tool", "tool_name", "function")
_CALL_HINT = re.compile(r'"(?:name|tool|tool_name|function)"\s*:', re.IGNORECASE)
_ARGUMENTS_KEY = re.compile(r'"(?:arguments|parameters|args)"\s*:', re.IGNORECASE)
CALL_STARTS = ("{", "[", "```", "<tool_call>")
"""How an answer that is a call written as text begins (once leading space is stripped)."""
MAX_TEXT_CALLS = 16
"""Calls read from one answer at most; a model listing hundreds is looping, not working."""


@dataclass
class TextCalls:
    """What was found in one answer's text."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    """Tool calls in LangChain's format (``name``, ``args``, ``id``, ``type``)."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(the text that looked like a call, why it could not be read)."""
    text: str = ""
    """The answer with the calls cut out (stripped)."""
    echoed: bool = False
    """The answer copied a tool result's markup (``<tool_response>``), cut out of ``text``."""

    @property
    def found(self) -> bool:
        return bool(self.calls or self.errors or self.echoed)


def parse_text_calls(content: str, known_tools: Collection[str] = ()) -> TextCalls:
    """Tool calls written in ``content`` (see the module docstring for the forms read)."""
    if not content or ("{" not in content and "<tool_" not in content):
        return TextCalls(text=content.strip() if content else "")
    known = frozenset(known_tools)
    result = TextCalls()
    remaining = content

    # 0. A tool result's markup copied from the prompt (Qwen's template shows results as
    # <tool_response> blocks): never a reply. Alone, the model is told to call a tool.
    if "<tool_response>" in remaining:
        result.echoed = True
        remaining = _ECHOED.sub(" ", remaining)

    # 1. <tool_call> tags: everything inside is meant as a call.
    if "<tool_call>" in remaining:
        for match in _TAGGED.finditer(remaining):
            _read_block(match.group(1), known, result)
        remaining = _TAGGED.sub(" ", remaining)

    # 2. Fenced blocks: a call if the block holds call-shaped JSON.
    def fenced(match: re.Match[str]) -> str:
        body = match.group(2).strip()
        if not body.startswith(("{", "[")) or not _attempted_call(body, known):
            return match.group(0)  # a code sample, not a call: keep it in the text
        _read_block(body, known, result)
        return " "

    if "```" in remaining:
        remaining = _FENCED.sub(fenced, remaining)

    # 3. JSON in the open text: the whole answer as one value, or objects within prose.
    stripped = remaining.strip()
    whole, error = _loads_forgiving(stripped) if stripped.startswith(("{", "[")) else (None, "")
    if error is None:
        calls = [c for c in (_as_call(v, known) for v in _items(whole)) if c is not None]
        if calls:
            result.calls.extend(calls)
            remaining = ""
    elif "{" in remaining:
        remaining = _embedded_calls(remaining, known, result)

    result.calls = _distinct(result.calls)[:MAX_TEXT_CALLS]
    result.text = re.sub(r"[ \t]*\n[ \t]*\n\s*", "\n\n", remaining).strip()
    if result.echoed and not (result.calls or result.errors or result.text):
        result.errors.append(("<tool_response>", ECHO_ERROR))
    return result


def _distinct(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One of each call: a small model that repeats a call word for word means it once."""
    seen: set[str] = set()
    kept = []
    for call in calls:
        key = json.dumps([call["name"], call["args"]], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            kept.append(call)
    return kept


def _read_block(text: str, known: frozenset[str], result: TextCalls) -> None:
    """Read calls from a block the model marked as a call (tags, a fence); a block that is
    not one gets an error the model can act on."""
    value, error = _loads_forgiving(text)
    if error is not None:
        result.errors.append((text, error))
        return
    calls = [c for c in (_as_call(v, known) for v in _items(value)) if c is not None]
    if calls:
        result.calls.extend(calls)
    elif _CALL_HINT.search(text):
        result.errors.append((text, "the call has no tool name or no arguments object"))


def _attempted_call(candidate: str, known: frozenset[str]) -> bool:
    """Undecodable text that was meant as a call: it names a tool of ours, or has an
    arguments object. ``{"name": ..., "age": ...}`` in an answer about JSON is prose."""
    head = candidate[:400]
    return bool(_CALL_HINT.search(head)) and (
        bool(_ARGUMENTS_KEY.search(head)) or any(f'"{name}"' in head for name in known)
    )


def _embedded_calls(text: str, known: frozenset[str], result: TextCalls) -> str:
    """Cut call-shaped JSON objects out of prose; returns the prose."""
    decoder = json.JSONDecoder()
    kept: list[str] = []
    position = 0
    found = len(result.calls)
    broken = False  # an object that names a tool but does not decode
    while (start := text.find("{", position)) != -1:
        candidate = text[start:]
        try:
            value, length = decoder.raw_decode(candidate)
        except (json.JSONDecodeError, RecursionError):
            value, length = _doubled_braces(candidate)
            if value is None and _attempted_call(candidate, known):
                broken = True
        call = _as_call(value, known) if value is not None else None
        if call is None:
            kept.append(text[position : start + 1])
            position = start + 1
            continue
        result.calls.append(call)
        kept.append(text[position:start])
        position = start + length
    kept.append(text[position:])
    remaining = "".join(kept)
    if len(result.calls) == found and broken:
        # An attempt at a call that no decoder could read: tell the model, do not show it.
        _, error = _loads_forgiving(text[text.find("{") :])
        result.errors.append((text.strip(), error or "the call is not valid JSON"))
        return ""
    return remaining


def _doubled_braces(text: str) -> tuple[Any, int]:
    """``{{...}}`` at the start of ``text``: the value inside and the length consumed."""
    if not text.startswith("{{"):
        return None, 0
    depth = 0
    for index, char in enumerate(text):
        depth += (char == "{") - (char == "}")
        if depth == 0:
            value, error = _loads_forgiving(text[: index + 1])
            return (value, index + 1) if error is None else (None, 0)
    return None, 0


def _loads_forgiving(text: str) -> tuple[Any, str | None]:
    """JSON, or JSON with doubled braces; (value, None) or (None, the parser's complaint)."""
    text = text.strip().rstrip(";")
    attempts = [text]
    if text.startswith("{{") and text.endswith("}}"):
        attempts += [text[1:-1], text.replace("{{", "{").replace("}}", "}")]
    if (closed := _closed(text)) is not None:
        attempts.append(closed)
    first_error = None
    for attempt in attempts:
        try:
            return json.loads(attempt), None
        except (json.JSONDecodeError, RecursionError) as error:
            if first_error is None:
                first_error = (
                    f"{error.msg} at position {error.pos}"
                    if isinstance(error, json.JSONDecodeError)
                    else "nested too deeply"
                )
    return None, f"the call is not valid JSON ({first_error})"


def _structure(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """Each bracket of ``text`` from ``start`` that is outside a JSON string, with its index;
    then ``(len(text), '"')`` if a string is still open at the end."""
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{}[]":
            yield index, char
    if in_string:
        yield len(text), '"'


def _closed(text: str) -> str | None:
    """``text`` with the brackets it left open closed, when it ends between JSON values (not
    inside a string: an answer cut off mid-string by the token limit is not repaired)."""
    expected: list[str] = []
    for _, char in _structure(text):
        if char == '"':
            return None
        if char in "{[":
            expected.append("}" if char == "{" else "]")
        elif not expected or expected.pop() != char:
            return None
    if not expected or not text.startswith(("{", "[")):
        return None
    return text + "".join(reversed(expected))


def _items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
        return value["tool_calls"]
    return [value]


def _as_call(value: Any, known: frozenset[str]) -> dict[str, Any] | None:
    """A LangChain tool call from one call-shaped object, else None."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # OpenAI: {"type": "function", "function": {}}
        value = value["function"]
    name = next((value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    if not name:
        return None
    argument_key = next((k for k in _ARGUMENT_KEYS if k in value), None)
    if argument_key is not None:
        args = value[argument_key]
        if isinstance(args, str):
            args = _string_arguments(args)
    elif name in known:
        # The arguments written next to the name: {"name": "send_message", "message": "Hi"}.
        args = {k: v for k, v in value.items() if k not in (*_NAME_KEYS, "type", "id")}
    else:
        return None
    if not isinstance(args, dict):
        args = {"value": args} if args is not None else {}
    call_id = f"call-text-{uuid.uuid4().hex[:12]}"
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def _string_arguments(text: str) -> Any:
    """Arguments sent as a JSON string (OpenAI's wire format): decoded if they decode."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return {"arguments": text}  # the executor reports what is missing


def json_objects_in(text: str) -> list[dict[str, Any]]:
    """Every innermost-complete JSON object in ``text``, in order, where the whole does not
    parse: a small model's answer with one brace too many still holds its items
    (``[{"name": "Clara"}},`` was seen from Qwen2.5-Coder-0.5B). An object that parses is
    taken whole and the scan goes on after it."""
    found: list[dict[str, Any]] = []
    start = text.find("{")
    while start >= 0:
        end = _matching_brace(text, start)
        if end is not None:
            try:
                value = json.loads(text[start : end + 1])
            except (json.JSONDecodeError, RecursionError):
                value = None
            if isinstance(value, dict):
                found.append(value)
                start = text.find("{", end + 1)
                continue
        start = text.find("{", start + 1)
    return found


def _matching_brace(text: str, start: int) -> int | None:
    """The index of the ``}`` closing the ``{`` at ``start`` (strings respected), or None."""
    depth = 0
    for index, char in _structure(text, start):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def json_object_in(text: str) -> dict[str, Any] | None:
    """The JSON object a model answered with: bare, in a fence, or amid prose; None if none.

    The consolidation prompts ask for one object; small models wrap it as they wrap tool
    calls, so the same forgiving reader (doubled braces, unclosed brackets) reads it.
    """
    candidates = [body for _, body in _FENCED.findall(text)] + [text]
    for candidate in candidates:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start < 0:
            continue
        for piece in (
            (candidate[start : end + 1], candidate[start:]) if end > start else (candidate[start:],)
        ):
            value, error = _loads_forgiving(piece)
            if error is None and isinstance(value, dict):
                return value
    return None
