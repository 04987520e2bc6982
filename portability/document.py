"""The agent file's format: pydantic models of the document, and reading and writing it.

An agent file is one JSON object: a header (``format``, ``schema_version``), the thread and
user ids, the configuration (``Context``), the core memory (blocks, summary, pressure flag,
token budget, what the cached prompt layout shows of the blocks), the queue and the full
message history (LangChain message dicts), and the user's archival passages (text and
metadata; the embedding model's name, not the vectors).

The models say what a valid document is, so a broken file is refused before anything is
written, and pydantic's errors are translated into one line naming the field path and what it
had to be (``memory.blocks.human.limit must be an integer, got a string``). :class:`AgentFile`
is the result: the document parsed and ready to import.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO, get_args

from langchain_core.messages import BaseMessage, messages_from_dict
from langgraph_memgpt.embeddings import configured_embedding_model
from langgraph_memgpt.graph.context import Context
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    InstanceOf,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

DocumentFormat = Literal["langgraph-memgpt-agent"]
SupportedSchemaVersion = Literal[1]
"""The versions this package reads: a new one is added here, and to the models below."""

FORMAT: str = get_args(DocumentFormat)[0]
SCHEMA_VERSION = 1
"""The version :func:`export_agent` writes."""
SUPPORTED_SCHEMA_VERSIONS: tuple[int, ...] = get_args(SupportedSchemaVersion)


class AgentFileError(ValueError):
    """The document is not a valid agent file; nothing was written."""


class UnsupportedSchemaVersionError(AgentFileError):
    """The document was written in a schema version this package cannot read."""


# -- rules pydantic cannot say with a type -------------------------------------------------

_PROBLEM = "agent_file"
"""Error type of the rules below, so their text is kept as written (see _describe)."""


def _problem(text: str, index: int | None = None) -> PydanticCustomError:
    """A broken rule, worded to follow the field path (``index``: the list entry at fault)."""
    context: dict[str, Any] = {"text": text}
    if index is not None:
        context["index"] = index
    return PydanticCustomError(_PROBLEM, "{text}", context)


def _message(entry: Any) -> BaseMessage:
    try:
        (message,) = messages_from_dict([entry])
    except Exception as error:  # any malformed entry, whatever LangChain raises for it
        raise _problem(f"is not a message: {error}") from None
    if not message.id:
        # Ids are what recall memory and the queue's RemoveMessage updates address.
        raise _problem("has no id")
    return message


def _unique_ids(kind: str) -> AfterValidator:
    """Refuses a list with two entries of one id: one would silently overwrite the other."""

    def check(entries: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for number, entry in enumerate(entries):
            if entry.id in seen:
                raise _problem(f"{kind} id {entry.id} appears twice", index=number)
            seen.add(entry.id)
        return entries

    return AfterValidator(check)


def _iso_timestamp(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _problem("is not an ISO timestamp") from None
    return value


NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
Message = Annotated[BaseMessage, PlainValidator(_message)]
Messages = Annotated[list[Message], _unique_ids("message")]
Timestamp = Annotated[str, AfterValidator(_iso_timestamp)]


# -- the document --------------------------------------------------------------------------


class _Part(BaseModel):
    # Strict: a limit of "100" or `true` is as wrong as the checks before pydantic had it.
    model_config = ConfigDict(strict=True, extra="ignore")


class _OpenPart(_Part):
    """A part written back as it came: fields this version does not read are kept."""

    model_config = ConfigDict(extra="allow")


class BlockEntry(_OpenPart):
    """One core memory block (``graph.state.Block``), under its label in ``memory.blocks``."""

    value: str
    limit: int
    description: str
    read_only: bool

    @model_validator(mode="after")
    def within_limit(self) -> BlockEntry:
        if len(self.value) > self.limit:
            raise _problem(
                f"holds {len(self.value)} characters, more than its limit of {self.limit}"
            )
        return self


class SummaryEntry(_OpenPart):
    """The recursive summary heading the queue (``graph.state.Summary``)."""

    text: str
    message_count: int


class PromptCoreEntry(_OpenPart):
    """Core memory as the cached prompt layout shows it (``graph.state.PromptCore``)."""

    blocks: dict[str, BlockEntry]
    shown: dict[str, BlockEntry]
    metadata: str


class MemorySection(_Part):
    """``memory``: the state the agent answers from besides its messages."""

    blocks: dict[str, BlockEntry]
    summary: SummaryEntry | None = None
    # Any value is read by its truth, as before there was a schema for it.
    pressure_warned: Annotated[bool, BeforeValidator(bool)] = False
    budget: dict[str, Any] | None = None
    # Absent in files written before the cached layout: the first call then shows core memory
    # afresh (a fold), which changes nothing the model can know but the note's counts.
    prompt_core: PromptCoreEntry | None = None


class PassageValue(_OpenPart):
    """The stored value of a passage: its text and whatever metadata came with it."""

    content: str


class PassageEntry(_OpenPart):
    """One archival passage with its store key and store timestamps."""

    id: str
    value: PassageValue
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class ArchivalSection(_Part):
    """``archival``: the user's passages and the model that embedded them."""

    embedding_model: str | None = None
    passages: Annotated[list[PassageEntry], _unique_ids("passage")]


class AgentDocument(_Part):
    """A whole agent file as written by ``export_agent`` (fields not listed are ignored)."""

    format: DocumentFormat
    schema_version: SupportedSchemaVersion
    thread_id: NonEmptyStr
    user_id: NonEmptyStr
    configuration: dict[str, Any]
    memory: MemorySection
    history: Messages
    queue: Messages
    archival: ArchivalSection

    def agent_file(self) -> AgentFile:
        """The document in the shape the import writes (plain dicts, a ``Context``)."""
        context, notes = _context(self.configuration, self.user_id)
        exported_model = self.archival.embedding_model
        passages = self.archival.passages
        if passages and exported_model and exported_model != configured_embedding_model():
            notes.append(
                f"the passages were embedded with {exported_model}; they are re-embedded with "
                f"{configured_embedding_model()} (set MEMGPT_EMBEDDING_MODEL to keep the model)"
            )
        memory = self.memory
        return AgentFile(
            thread_id=self.thread_id,
            user_id=self.user_id,
            context=context,
            blocks={label: _plain(block) for label, block in memory.blocks.items()},
            summary=_plain(memory.summary) if memory.summary is not None else None,
            pressure_warned=memory.pressure_warned,
            budget=memory.budget,
            prompt_core=_plain(memory.prompt_core) if memory.prompt_core is not None else None,
            history=self.history,
            queue=self.queue,
            passages=[_plain(passage) for passage in passages],
            embedding_model=exported_model,
            notes=tuple(notes),
        )


class AgentFile(BaseModel):
    """A validated agent document, ready to import."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    user_id: str
    context: InstanceOf[Context]
    blocks: dict[str, Any]
    summary: dict[str, Any] | None
    pressure_warned: bool
    budget: dict[str, Any] | None
    prompt_core: dict[str, Any] | None
    history: list[InstanceOf[BaseMessage]]
    queue: list[InstanceOf[BaseMessage]]
    passages: list[dict[str, Any]]
    embedding_model: str | None
    notes: tuple[str, ...] = ()

    def with_ids(self, thread_id: str | None = None, user_id: str | None = None) -> AgentFile:
        """This file for another thread and/or user (``None`` keeps the exported one)."""
        user = user_id or self.user_id
        return self.model_copy(
            update={
                "thread_id": thread_id or self.thread_id,
                "user_id": user,
                "context": with_user(self.context, user),
            }
        )


def _plain(part: BaseModel) -> dict[str, Any]:
    # Only what the file held: an absent timestamp stays absent rather than becoming null.
    return part.model_dump(exclude_unset=True)


def _context(configuration: dict[str, Any], user_id: str) -> tuple[Context, list[str]]:
    """The exported ``Context``; a field this version lacks is noted, not an error."""
    known = {f.name for f in dataclasses.fields(Context)}
    unknown = sorted(set(configuration) - known)
    notes = [f"ignored unknown configuration fields: {', '.join(unknown)}"] if unknown else []
    values = {k: v for k, v in configuration.items() if k in known}
    values["user_id"] = user_id
    try:
        return Context(**values), notes
    except (TypeError, ValueError) as error:
        raise AgentFileError(f"configuration: {error}") from None


def with_user(context: Context, user_id: str) -> Context:
    """``context`` for ``user_id``: the user id decides whose archive is read or written."""
    return context if context.user_id == user_id else dataclasses.replace(context, user_id=user_id)


# -- pydantic's errors as one line ---------------------------------------------------------

_EXPECTED = {
    "string_type": "a string",
    "string_too_short": "a non-empty string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
}


def _json_kind(value: Any) -> str:
    """What a JSON value is, in the words of the document's readers."""
    if value is None:
        return "null"
    if isinstance(value, str) and not value:
        return "an empty string"
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"))
    kinds += ((list, "a list"), (dict, "an object"))
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def _path(loc: tuple[int | str, ...]) -> str:
    """``("history", 1, "data")`` as ``history[1].data``, the way the README names fields."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: ErrorDetails) -> str:
    where = _path(error["loc"])
    context = error.get("ctx") or {}
    if error["type"] == _PROBLEM:
        if "index" in context:
            return f"{where}[{context['index']}]: {context['text']}"
        return f"{where} {context['text']}"
    if error["type"] == "missing":
        return f"{where} is missing"
    expected = _EXPECTED.get(error["type"])
    if expected is not None:
        return f"{where} must be {expected}, got {_json_kind(error['input'])}"
    return f"{where}: {error['msg']}"


def _document_error(error: ValidationError, document: Mapping[str, Any]) -> AgentFileError:
    """The first problem, the header's before the rest: another format or version explains
    every other error, and the reader needs to hear that first."""
    errors = error.errors()
    fields = {e["loc"][0] for e in errors if e["loc"]}
    if "format" in fields:
        return AgentFileError(
            f"not a langgraph-memgpt agent file (format is {document.get('format')!r}, "
            f"expected {FORMAT!r})"
        )
    if "schema_version" in fields:
        supported = ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        return UnsupportedSchemaVersionError(
            f"agent file schema_version {document.get('schema_version')!r} is not supported "
            f"(this langgraph-memgpt reads version {supported}); import it with the version "
            "that exported it, or a newer one"
        )
    more = len(errors) - 1
    rest = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return AgentFileError(_describe(errors[0]) + rest)


# -- reading and writing -------------------------------------------------------------------


def read_document(
    document: Mapping[str, Any], *, thread_id: str | None = None, user_id: str | None = None
) -> AgentFile:
    """Validate a document and parse it; ``thread_id``/``user_id`` replace the exported ones.

    Raises :class:`UnsupportedSchemaVersionError` or :class:`AgentFileError` naming the
    problem.
    """
    if not isinstance(document, Mapping):
        raise AgentFileError("an agent file is a JSON object")
    values = dict(document)
    # An id given for the import stands in for the file's, which then need not be valid.
    if thread_id:
        values["thread_id"] = thread_id
    if user_id:
        values["user_id"] = user_id
    try:
        parsed = AgentDocument.model_validate(values)
    except ValidationError as error:
        raise _document_error(error, values) from None
    return parsed.agent_file()


def dump_document(document: Mapping[str, Any], target: str | Path | TextIO) -> None:
    """Write a document as UTF-8 JSON to a path (written whole, then renamed) or a stream."""
    text = json.dumps(document, ensure_ascii=False, indent=1, default=str) + "\n"
    if isinstance(target, str | Path):
        path = Path(target)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # a reader never sees half a file
    else:
        target.write(text)


def load_document(source: str | Path | TextIO) -> dict[str, Any]:
    """Read a JSON document from a path or a stream (not validated: see :func:`read_document`)."""
    try:
        if isinstance(source, str | Path):
            return json.loads(Path(source).read_text(encoding="utf-8"))
        return json.load(source)
    except json.JSONDecodeError as error:
        raise AgentFileError(f"not a JSON document: {error}") from None
    except UnicodeDecodeError:
        raise AgentFileError("not a JSON document: the file is not UTF-8 text") from None
