"""Export an agent to one JSON document and import it elsewhere: the whole memory, versioned.

The document holds everything the agent answers from: the core memory blocks and the summary
(as the thread's state holds them), the queue as it stands, the full message history read
from the checkpoints (every message ever added, evicted or not, with ids, timestamps and tool
calls), the user's archival passages (text, tags, timestamps, ids, source; the embedding
model's name but not the vectors, which are recomputed on import) and the configuration
(``Context``). Unlike Letta's agent file it carries archival memory too.

Import writes the history into a new thread with ``update_state`` in ordered batches (the
queue is a DeltaChannel, so each batch is stored as one checkpoint write, which is exactly
what recall memory reads back), then sets the queue to its exported contents. The recall log
of the imported thread therefore lists the same messages in the same order as the original's,
and conversation_search and archival search return the same results on both.

Rules: a document with an unknown ``schema_version`` is refused; a thread that already has
memory is refused unless ``force=True``, which deletes it first; archival passages are
upserted by id into the user's archive (re-importing the same file adds nothing twice). On a
failure midway the new thread and the passages it created are removed again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from langchain_core.messages import (
    BaseMessage,
    RemoveMessage,
    message_to_dict,
    messages_from_dict,
)
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore, GetOp, PutOp
from langgraph_memgpt.archival.store import SqliteVecStore, _ns_name
from langgraph_memgpt.checkpoints.history import read_log
from langgraph_memgpt.embeddings import configured_embedding_model
from langgraph_memgpt.graph.builder import build_graph
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.memory.status import is_sync_only_saver
from langgraph_memgpt.steps import Call, NodeSteps, adrive, blocking, drive
from langgraph_memgpt.tools.archival import archive_namespace
from langgraph_memgpt.tools.recall import search_steps

FORMAT = "langgraph-memgpt-agent"
SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)

HISTORY_BATCH = 500
"""Fewest messages per import batch; larger histories use bigger batches (see below)."""
HISTORY_BATCHES = 20
"""Most history batches: each is one update of the queue channel, and 50 updates would make
LangGraph store a full snapshot of the (then whole-history) queue in a checkpoint."""
PASSAGE_BATCH = 64
"""Passages embedded and written per store batch."""
PAGE = 1_000
"""Passages read per page on export."""
IMPORT_NODE = "execute_tools"
"""The node the import's updates are recorded as: with the heartbeat unset it routes to END,
so the imported thread is idle (``next == ()``) like one whose turn has finished."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stages: "history", "archive", "recall index"."""


class AgentFileError(ValueError):
    """The document is not a valid agent file; nothing was written."""


class UnsupportedSchemaVersionError(AgentFileError):
    """The document was written in a schema version this package cannot read."""


class ThreadNotEmptyError(RuntimeError):
    """The target thread already has memory; import it elsewhere or pass ``force=True``."""


class ThreadNotFoundError(LookupError):
    """The thread to export has no checkpoints."""


@dataclass(frozen=True)
class AgentFile:
    """A validated agent document, ready to import."""

    thread_id: str
    user_id: str
    context: Context
    blocks: dict[str, Any]
    summary: dict[str, Any] | None
    pressure_warned: bool
    budget: dict[str, Any] | None
    history: list[BaseMessage]
    queue: list[BaseMessage]
    passages: list[dict[str, Any]]
    embedding_model: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    thread_id: str
    user_id: str
    messages: int
    """Messages in the imported history (recall memory)."""
    queue: int
    """Messages in the imported queue (the context window)."""
    passages: int
    """Archival passages written."""
    replaced: bool
    """An existing thread was deleted first (``force=True``)."""
    context: Context
    """The exported configuration (user id as imported): run the agent with it."""
    notes: tuple[str, ...] = ()


# -- export --------------------------------------------------------------------------------


def export_steps(
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str,
    user_id: str,
    context: Context | None = None,
) -> NodeSteps[dict[str, Any]]:
    """The export as a generator of I/O calls (see :func:`export_agent`)."""
    ctx = _with_user(context or Context(user_id=user_id), user_id)
    agent = _state_graph(checkpointer)
    config = {"configurable": {"thread_id": thread_id}}
    snapshot = yield Call(
        run=lambda: agent.get_state(config), arun=lambda: agent.aget_state(config)
    )
    if snapshot.created_at is None:
        raise ThreadNotFoundError(f"thread '{thread_id}' has no checkpoints: nothing to export")
    values = snapshot.values
    log = yield from read_log(checkpointer, thread_id, {})
    namespace = archive_namespace(ctx, thread_id)
    passages = (yield from list_passages(store, namespace)) if store is not None else []
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exported_by": f"langgraph-memgpt {_package_version()}",
        "thread_id": thread_id,
        "user_id": user_id,
        "configuration": dataclasses.asdict(ctx),
        "memory": {
            "blocks": dict(values.get("blocks") or {}),
            "summary": values.get("summary") or None,
            "pressure_warned": bool(values.get("pressure_warned")),
            "budget": dict(values["budget"]) if values.get("budget") else None,
        },
        "queue": [message_to_dict(m) for m in values.get("messages") or []],
        "history": [message_to_dict(m) for m in log.messages],
        "archival": {
            "namespace": list(namespace),
            "embedding_model": configured_embedding_model() if store is not None else None,
            "passages": passages,
        },
    }


def list_passages(store: BaseStore, namespace: tuple[str, ...]) -> NodeSteps[list[dict]]:
    """Every passage stored directly in ``namespace``, in store order, as JSON values."""
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = yield Call(
            run=lambda o=offset: store.search(namespace, limit=PAGE, offset=o),
            arun=lambda o=offset: store.asearch(namespace, limit=PAGE, offset=o),
        )
        for item in page:
            # search() takes a namespace prefix: thread-scoped archives below it are not ours.
            if tuple(item.namespace) == tuple(namespace):
                found.append(
                    {
                        "id": item.key,
                        "value": item.value,
                        "created_at": item.created_at.isoformat(),
                        "updated_at": item.updated_at.isoformat(),
                    }
                )
        if len(page) < PAGE:
            return found
        offset += PAGE


def export_agent(
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str,
    user_id: str,
    context: Context | None = None,
) -> dict[str, Any]:
    """One JSON-able document with the thread's memory, history, archive and configuration.

    Example:
        ```python
        from langgraph_memgpt.archival import SqliteVecStore
        from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
        from langgraph_memgpt.portability.core import dump_document, export_agent

        with open_sqlite_checkpointer("checkpoints.sqlite") as saver:
            document = export_agent(
                checkpointer=saver, store=SqliteVecStore("archive.sqlite"),
                thread_id="ada", user_id="ada",
            )
        dump_document(document, "ada.json")
        ```
    """
    return drive(
        export_steps(
            checkpointer=checkpointer,
            store=store,
            thread_id=thread_id,
            user_id=user_id,
            context=context,
        )
    )


async def aexport_agent(
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str,
    user_id: str,
    context: Context | None = None,
) -> dict[str, Any]:
    """:func:`export_agent` for async code (same arguments)."""
    options = {
        "checkpointer": checkpointer,
        "store": store,
        "thread_id": thread_id,
        "user_id": user_id,
        "context": context,
    }
    if is_sync_only_saver(checkpointer):
        return await asyncio.to_thread(export_agent, **options)
    return await adrive(export_steps(**options))


# -- the document ----------------------------------------------------------------------------


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


def read_document(
    document: Mapping[str, Any], *, thread_id: str | None = None, user_id: str | None = None
) -> AgentFile:
    """Validate a document and parse it; ``thread_id``/``user_id`` replace the exported ones.

    Raises :class:`UnsupportedSchemaVersionError` or :class:`AgentFileError` naming the
    problem.
    """
    if not isinstance(document, Mapping):
        raise AgentFileError("an agent file is a JSON object")
    if document.get("format") != FORMAT:
        raise AgentFileError(
            f"not a langgraph-memgpt agent file (format is {document.get('format')!r}, "
            f"expected {FORMAT!r})"
        )
    version = document.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        raise UnsupportedSchemaVersionError(
            f"agent file schema_version {version!r} is not supported (this langgraph-memgpt "
            f"reads version {supported}); import it with the version that exported it, or a "
            "newer one"
        )
    thread = thread_id or _required(document, "thread_id", str)
    user = user_id or _required(document, "user_id", str)
    memory = _required(document, "memory", dict)
    context, notes = _context(_required(document, "configuration", dict), user)
    blocks = _blocks(_required(memory, "blocks", dict, "memory.blocks"))
    summary = memory.get("summary")
    if summary is not None:
        _check_fields(summary, {"text": str, "message_count": int}, "memory.summary")
    budget = memory.get("budget")
    if budget is not None and not isinstance(budget, dict):
        raise AgentFileError("memory.budget must be an object or null")
    history = _messages(_required(document, "history", list), "history")
    queue = _messages(_required(document, "queue", list), "queue")
    archival = _required(document, "archival", dict)
    passages = _passages(_required(archival, "passages", list, "archival.passages"))
    exported_model = archival.get("embedding_model")
    if passages and exported_model and exported_model != configured_embedding_model():
        notes.append(
            f"the passages were embedded with {exported_model}; they are re-embedded with "
            f"{configured_embedding_model()} (set MEMGPT_EMBEDDING_MODEL to keep the model)"
        )
    return AgentFile(
        thread_id=thread,
        user_id=user,
        context=context,
        blocks=blocks,
        summary=summary,
        pressure_warned=bool(memory.get("pressure_warned")),
        budget=budget,
        history=history,
        queue=queue,
        passages=passages,
        embedding_model=exported_model,
        notes=tuple(notes),
    )


def _required(parent: Mapping[str, Any], key: str, kind: type, where: str | None = None) -> Any:
    value = parent.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        expected = {str: "a non-empty string", dict: "an object", list: "a list"}[kind]
        raise AgentFileError(f"{where or key} must be {expected}, got {type(value).__name__}")
    return value


def _check_fields(value: Any, fields: Mapping[str, type], where: str) -> None:
    if not isinstance(value, dict):
        raise AgentFileError(f"{where} must be an object")
    for name, kind in fields.items():
        # bool is an int in Python: a limit of `true` is still wrong.
        if not isinstance(value.get(name), kind) or (
            kind is int and isinstance(value.get(name), bool)
        ):
            raise AgentFileError(f"{where}.{name} must be a {kind.__name__}")


def _blocks(blocks: dict[str, Any]) -> dict[str, Any]:
    fields = {"value": str, "limit": int, "description": str, "read_only": bool}
    for label, block in blocks.items():
        _check_fields(block, fields, f"memory.blocks.{label}")
        if len(block["value"]) > block["limit"]:
            raise AgentFileError(
                f"memory.blocks.{label} holds {len(block['value'])} characters, more than its "
                f"limit of {block['limit']}"
            )
    return blocks


def _messages(entries: list[Any], where: str) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries):
        try:
            (message,) = messages_from_dict([entry])
        except Exception as error:
            raise AgentFileError(f"{where}[{number}] is not a message: {error}") from None
        if not message.id:
            raise AgentFileError(f"{where}[{number}] has no id")
        if message.id in seen:
            raise AgentFileError(f"{where}[{number}]: message id {message.id} appears twice")
        seen.add(message.id)
        messages.append(message)
    return messages


def _passages(entries: list[Any]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for number, entry in enumerate(entries):
        where = f"archival.passages[{number}]"
        _check_fields(entry, {"id": str, "value": dict}, where)
        if not isinstance(entry["value"].get("content"), str):
            raise AgentFileError(f"{where}.value.content must be a string")
        for stamp in ("created_at", "updated_at"):
            if entry.get(stamp) is not None:
                try:
                    datetime.fromisoformat(entry[stamp])
                except (TypeError, ValueError):
                    raise AgentFileError(f"{where}.{stamp} is not an ISO timestamp") from None
        if entry["id"] in seen:
            raise AgentFileError(f"{where}: passage id {entry['id']} appears twice")
        seen.add(entry["id"])
    return entries


def _context(configuration: dict[str, Any], user_id: str) -> tuple[Context, list[str]]:
    known = {f.name for f in dataclasses.fields(Context)}
    unknown = sorted(set(configuration) - known)
    notes = [f"ignored unknown configuration fields: {', '.join(unknown)}"] if unknown else []
    values = {k: v for k, v in configuration.items() if k in known}
    values["user_id"] = user_id
    try:
        return Context(**values), notes
    except (TypeError, ValueError) as error:
        raise AgentFileError(f"configuration: {error}") from None


# -- import --------------------------------------------------------------------------------


def import_steps(
    document: Mapping[str, Any] | AgentFile,
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str | None = None,
    user_id: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> NodeSteps[ImportResult]:
    """The import as a generator of I/O calls (see :func:`import_agent`)."""
    if isinstance(document, AgentFile):
        agent_file = dataclasses.replace(
            document,
            thread_id=thread_id or document.thread_id,
            user_id=user_id or document.user_id,
            context=_with_user(document.context, user_id or document.user_id),
        )
    else:
        agent_file = read_document(document, thread_id=thread_id, user_id=user_id)
    if agent_file.passages and store is None:
        raise AgentFileError(
            f"the file holds {len(agent_file.passages)} archival passages but no store was "
            "given to import them into"
        )
    thread = agent_file.thread_id
    agent = _state_graph(checkpointer)
    config = {"configurable": {"thread_id": thread}}
    replaced = yield from thread_memory_steps(agent, thread)
    if replaced:
        if not force:
            raise ThreadNotEmptyError(
                f"thread '{thread}' already has memory; import into another thread, or "
                "replace it (force)"
            )
        yield _delete_thread(checkpointer, thread)
    namespace = archive_namespace(agent_file.context, thread)
    created: list[str] = []
    if store is not None and agent_file.passages:
        created = yield from _new_passage_keys(store, namespace, agent_file.passages)
    try:
        yield from _write_thread(agent, config, agent_file, progress)
        if store is not None and agent_file.passages:
            yield from _write_passages(store, namespace, agent_file.passages, progress)
        if replaced:
            # The recall index still holds the replaced thread's messages: rebuild it.
            if progress:
                progress("recall index", 0, 1)
            yield from search_steps(
                checkpointer, thread, "", start_date="0001-01-01", limit=1, rebuild=True
            )
            if progress:
                progress("recall index", 1, 1)
    except Exception:
        yield _delete_thread(checkpointer, thread)
        if created:
            removals = [PutOp(namespace, key, None) for key in created]
            yield Call(run=lambda: store.batch(removals), arun=lambda: store.abatch(removals))
        raise
    return ImportResult(
        thread_id=thread,
        user_id=agent_file.user_id,
        messages=len(agent_file.history),
        queue=len(agent_file.queue),
        passages=len(agent_file.passages),
        replaced=replaced,
        context=agent_file.context,
        notes=agent_file.notes,
    )


def thread_memory_steps(agent: CompiledStateGraph, thread_id: str) -> NodeSteps[bool]:
    """Whether a thread has memory (messages, blocks or a summary) an import would replace."""
    config = {"configurable": {"thread_id": thread_id}}
    snapshot = yield Call(
        run=lambda: agent.get_state(config), arun=lambda: agent.aget_state(config)
    )
    values = snapshot.values or {}
    return bool(values.get("messages") or values.get("blocks") or values.get("summary"))


def thread_has_memory(checkpointer: BaseCheckpointSaver, thread_id: str) -> bool:
    """True if importing into ``thread_id`` needs ``force`` (check before a long import).

    Example:
        ```python
        if thread_has_memory(saver, "ada"):
            print("thread 'ada' is taken")
        ```
    """
    return drive(thread_memory_steps(_state_graph(checkpointer), thread_id))


def _write_thread(
    agent: CompiledStateGraph,
    config: dict[str, Any],
    agent_file: AgentFile,
    progress: Progress | None,
) -> NodeSteps[None]:
    """State first, then the history in order, then the queue as exported."""
    state: dict[str, Any] = {
        "blocks": agent_file.blocks,
        "pressure_warned": agent_file.pressure_warned,
        "heartbeat": False,
        "step": 0,
    }
    # Left unset when absent, as in a thread that never evicted or never called the model.
    if agent_file.summary is not None:
        state["summary"] = agent_file.summary
    if agent_file.budget is not None:
        state["budget"] = agent_file.budget
    updates: list[dict[str, Any]] = [state]
    history = agent_file.history
    size = max(HISTORY_BATCH, math.ceil(len(history) / HISTORY_BATCHES))
    updates += [{"messages": history[i : i + size]} for i in range(0, len(history), size)]
    # The queue's copies may differ from the history's (a cut oversized message keeps its id):
    # clearing and re-adding gives the exact queue, and the log keeps the longer versions.
    updates.append({"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *agent_file.queue]})
    written = 0
    for update in updates:
        yield Call(
            run=lambda u=update: agent.update_state(config, u, as_node=IMPORT_NODE),
            arun=lambda u=update: agent.aupdate_state(config, u, as_node=IMPORT_NODE),
        )
        if progress and update is not updates[-1] and "blocks" not in update:
            written += len(update["messages"])
            progress("history", written, len(history))
    if progress and not history:
        progress("history", 0, 0)


def _new_passage_keys(
    store: BaseStore, namespace: tuple[str, ...], passages: Sequence[dict[str, Any]]
) -> NodeSteps[list[str]]:
    """Ids of the passages the archive does not hold yet (what a rollback removes)."""
    keys = [p["id"] for p in passages]
    lookups = [GetOp(namespace, key) for key in keys]
    found = yield Call(run=lambda: store.batch(lookups), arun=lambda: store.abatch(lookups))
    return [key for key, item in zip(keys, found, strict=True) if item is None]


def _write_passages(
    store: BaseStore,
    namespace: tuple[str, ...],
    passages: Sequence[dict[str, Any]],
    progress: Progress | None,
) -> NodeSteps[None]:
    """Upsert the passages in export order, with their original store timestamps."""
    for start in range(0, len(passages), PASSAGE_BATCH):
        chunk = passages[start : start + PASSAGE_BATCH]
        puts = [PutOp(namespace, p["id"], p["value"]) for p in chunk]
        yield Call(run=lambda o=puts: store.batch(o), arun=lambda o=puts: store.abatch(o))
        if progress:
            progress("archive", min(start + PASSAGE_BATCH, len(passages)), len(passages))
    if isinstance(store, SqliteVecStore):
        yield blocking(_restore_store_times, store, namespace, passages)


def _restore_store_times(
    store: SqliteVecStore, namespace: tuple[str, ...], passages: Sequence[dict[str, Any]]
) -> None:
    """Give the imported items their original store timestamps.

    archival_memory_search filters and shows passages by the store's ``created_at``;
    ``BaseStore.put`` stamps the time of the write, so without this every imported passage
    would look new. Other stores keep the import time (the value's ``created_at`` still holds
    the original).
    """
    rows = [
        (p["created_at"], p.get("updated_at") or p["created_at"], p["id"], _ns_name(namespace))
        for p in passages
        if p.get("created_at")
    ]
    with store.lock, store.conn:
        store.conn.executemany(
            "UPDATE items SET created_at = ?, updated_at = ? WHERE key = ? AND ns_id = "
            "(SELECT id FROM namespaces WHERE name = ?)",
            rows,
        )


def import_agent(
    document: Mapping[str, Any] | AgentFile,
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str | None = None,
    user_id: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Recreate an exported agent: its thread (memory, history, queue) and its archive.

    ``thread_id``/``user_id`` default to the exported ones. A thread that already has memory
    is refused (:class:`ThreadNotEmptyError`) unless ``force`` (then it is replaced).

    Example:
        ```python
        from langgraph_memgpt.archival import open_archive
        from langgraph_memgpt.checkpoints import open_sqlite_checkpointer
        from langgraph_memgpt.portability.core import import_agent, load_document

        with open_sqlite_checkpointer("new.sqlite") as saver:
            result = import_agent(
                load_document("ada.json"), checkpointer=saver, store=open_archive("new.archive")
            )
        print(result.messages, result.passages)
        ```
    """
    return drive(
        import_steps(
            document,
            checkpointer=checkpointer,
            store=store,
            thread_id=thread_id,
            user_id=user_id,
            force=force,
            progress=progress,
        )
    )


async def aimport_agent(
    document: Mapping[str, Any] | AgentFile,
    *,
    checkpointer: BaseCheckpointSaver,
    store: BaseStore | None,
    thread_id: str | None = None,
    user_id: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """:func:`import_agent` for async code (same arguments)."""
    options = {
        "checkpointer": checkpointer,
        "store": store,
        "thread_id": thread_id,
        "user_id": user_id,
        "force": force,
        "progress": progress,
    }
    if is_sync_only_saver(checkpointer):
        return await asyncio.to_thread(import_agent, document, **options)
    return await adrive(import_steps(document, **options))


# -- helpers -------------------------------------------------------------------------------


def _state_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The agent graph on ``checkpointer``, used only to read and write thread state."""
    return build_graph(checkpointer=checkpointer)


def _delete_thread(checkpointer: BaseCheckpointSaver, thread_id: str) -> Call:
    return Call(
        run=lambda: checkpointer.delete_thread(thread_id),
        arun=lambda: checkpointer.adelete_thread(thread_id),
    )


def _with_user(context: Context, user_id: str) -> Context:
    return context if context.user_id == user_id else dataclasses.replace(context, user_id=user_id)


def _package_version() -> str:
    try:
        return metadata.version("langgraph-memgpt")
    except metadata.PackageNotFoundError:
        return "unknown"


__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "AgentFile",
    "AgentFileError",
    "ImportResult",
    "ThreadNotEmptyError",
    "ThreadNotFoundError",
    "UnsupportedSchemaVersionError",
    "aexport_agent",
    "aimport_agent",
    "dump_document",
    "export_agent",
    "export_steps",
    "import_agent",
    "import_steps",
    "list_passages",
    "load_document",
    "read_document",
    "thread_has_memory",
]
