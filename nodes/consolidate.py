"""The consolidation graph's nodes: read a thread's new history, extract what lasts, tidy core.

``read_history`` reads the thread's recall history (its checkpoints, ``checkpoints/history.py``)
from where the last run stopped (the cursor, ``memory/knowledge.py``). ``extract_knowledge``
takes one bounded chunk of it per visit and asks the model for the lasting facts, the entities
and the relations in it, then stores them; ``update_core_memory`` asks the model to fold the
run's new facts into the ``human`` block, within its limit, as a normal block edit of the
thread.

Crash safety, per chunk: the model's parsed answer is written into the cursor before anything
is applied, every write is keyed by what it is, and the cursor moves past the chunk only after.
A run that stops anywhere resumes at the chunk it was in, re-applies the saved answer (writing
the same keys again) and never asks the model about a message twice. Consolidation adds and
supersedes; it deletes nothing.
"""

from __future__ import annotations

import json
import logging
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph_memgpt._compat import api_server_checkpointer, unwrap_server_checkpointer
from langgraph_memgpt.checkpoints.history import read_log, running_checkpointer
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.prompts import reply_text
from langgraph_memgpt.graph.state import message_timestamp
from langgraph_memgpt.memory.archive import archive_namespace, bound_context
from langgraph_memgpt.memory.block_history import edit_metadata
from langgraph_memgpt.memory.blocks import BlockEditError, rethink
from langgraph_memgpt.memory.knowledge import (
    SourceRef,
    add_relation,
    clean,
    live_facts,
    merge_entity,
    read_cursor,
    store_fact,
    write_cursor,
)
from langgraph_memgpt.nodes.agent import AgentSpec
from langgraph_memgpt.nodes.tool_text import json_object_in, json_objects_in
from langgraph_memgpt.search.text import content_terms
from langgraph_memgpt.steps import Call, NodeSteps, blocking, model_call
from langgraph_memgpt.tokens import count_text

logger = logging.getLogger(__name__)

PROFILE_BLOCK = "human"
"""The block consolidation keeps as a current, compact profile of the user."""
KNOWN_FACTS = 8
"""Stored facts shown with each chunk, so the model can say which one a new fact replaces."""
MAX_FACTS_PER_CHUNK = 20
MAX_ITEMS_PER_CHUNK = 40
"""Entities or relations read from one answer (a runaway answer is cut, not refused)."""
MESSAGE_CHARS = 1_200
"""Characters of one message shown to the model (the rest is in the history)."""

EXTRACT_PROMPT = """You keep the long-term memory of an assistant. Read the conversation \
messages below and write down what is worth remembering for months: facts about the people, \
their lives, plans, preferences, places, pets, work and events. Skip greetings and small talk.

Rules:
- Each fact is one short sentence that makes sense alone: use names, not "he" or "I"; \
give dates as dates (the messages carry theirs), not "yesterday".
- "from" lists the numbers of the messages the fact comes from.
- If a new fact makes a stored fact no longer true, put that stored fact's label in \
"replaces" (for example "K2"); otherwise null. Do not repeat stored facts.
- Entity types: person, place, organisation, project, pet, event, other.

Answer with one JSON object and nothing else:
{"facts": [{"fact": "...", "from": [1], "replaces": null}],
 "entities": [{"name": "...", "type": "person", "about": "..."}],
 "relations": [{"subject": "...", "relation": "...", "object": "...", "from": [1]}]}"""

PROFILE_PROMPT = """You keep the block of an assistant's core memory that describes the user. \
It is shown to the assistant in every conversation, so it must stay a current, compact \
profile, not a log: keep what is still true, add what matters from the new facts, drop what \
they replace, merge repeats.

The block, at most {limit} characters (now {size}):
<block>
{value}
</block>

New facts learned since it was last tidied:
{facts}

Answer with one JSON object and nothing else: {{"{label}": "..."}} where ... is the whole new \
block, at most {limit} characters; or {{"{label}": null}} if nothing should change."""


class Line(TypedDict):
    """One message of the history, as consolidation reads it."""

    id: str
    at: str | None
    role: str
    text: str


class ConsolidationInput(TypedDict):
    thread_id: str
    """The conversation to consolidate."""


class ConsolidationState(TypedDict):
    thread_id: str
    user_id: NotRequired[str]
    pending: NotRequired[list[Line]]
    """Messages read and not yet consolidated, oldest first."""
    log_cursor: NotRequired[dict[str, Any]]
    """Where the history read ended: the cursor's next start once ``pending`` is done."""
    messages_read: NotRequired[int]
    """Messages read since the last run (named so that no tool takes it for a chat's
    ``messages`` list)."""
    done: NotRequired[int]
    chunks: NotRequired[int]
    facts_added: NotRequired[int]
    duplicates: NotRequired[int]
    superseded: NotRequired[int]
    entities: NotRequired[int]
    relations: NotRequired[int]
    new_facts: Annotated[list[str], operator.add]
    block_edits: Annotated[list[str], operator.add]
    notes: Annotated[list[str], operator.add]


@dataclass(frozen=True)
class ConsolidationSpec:
    """What the nodes bind: the model (None: the context's summarizer or chat model) and the
    checkpointer to read when a run has none of its own in its config."""

    model: Any = None
    checkpointer: Any = None

    @cached_property
    def agent(self) -> AgentSpec:
        """The model's loading rules (the context's summarizer, else its model): AgentSpec's."""
        return AgentSpec(model=self.model)

    def context(self, runtime: Runtime[Context] | None, config: Mapping[str, Any]) -> Context:
        # The authenticated user of a server run wins over the context's user_id (as for
        # the agent's archive): a caller consolidates only their own memory.
        return bound_context(self.agent.context(runtime), config)

    def history(self, config: Mapping[str, Any]) -> NodeSteps[Any]:
        """The checkpointer holding the threads: the one bound, else the run's own, else (a
        stateless run on a LangGraph server: the HTTP route, a cron without a thread) the
        server's, where its threads are; None outside a server."""
        if self.checkpointer is not None:
            return self.checkpointer
        saver = running_checkpointer(config)  # type: ignore[arg-type]
        if saver is None:
            found = yield Call(run=lambda: None, arun=api_server_checkpointer)
            saver = unwrap_server_checkpointer(found) if found is not None else None
        return saver


def message_line(message: BaseMessage) -> Line | None:
    """A user message or an assistant reply as a line of the chunk; None for the rest (tool
    calls and results, system notes), which hold nothing a person said."""
    if isinstance(message, HumanMessage):
        text, role = message.text, "user"
        if message.name:
            role = f"user ({message.name})"
    elif isinstance(message, AIMessage):
        text, role = reply_text(message), "assistant"
    else:
        return None
    text = str(text or "").strip()
    if not text or message.id is None:
        return None
    return Line(id=str(message.id), at=message_timestamp(message), role=role, text=text)


def next_chunk(pending: Sequence[Line], max_tokens: int) -> list[Line]:
    """The oldest messages of ``pending`` that fit ``max_tokens`` (always at least one)."""
    chunk: list[Line] = []
    used = 0
    for line in pending:
        size = count_text(line["text"][:MESSAGE_CHARS]) + 12
        if chunk and used + size > max_tokens:
            break
        chunk.append(line)
        used += size
    return chunk


def chunk_tokens(ctx: Context) -> int:
    """Tokens of messages per chunk: a third of the prompt window (the instructions, the known
    facts and the answer need the rest), between 300 and 1,500."""
    return max(300, min(1_500, ctx.prompt_window // 3))


def render_chunk(chunk: Sequence[Line], known: Sequence[str]) -> str:
    stored = "\n".join(f"[K{n}] {text}" for n, text in enumerate(known, start=1)) or "(none)"
    lines = []
    for number, line in enumerate(chunk, start=1):
        when = (line["at"] or "")[:16].replace("T", " ")
        lines.append(f"[{number}] {when} {line['role']}: {clean(line['text'], MESSAGE_CHARS)}")
    return f"Stored facts:\n{stored}\n\nMessages:\n" + "\n".join(lines)


def _list(value: Any, limit: int) -> list[Mapping[str, Any]]:
    return (
        [item for item in value if isinstance(item, Mapping)][:limit]
        if isinstance(value, list)
        else []
    )


def _sources(numbers: Any, chunk: Sequence[Line]) -> list[SourceRef]:
    """The chunk's messages a fact names by number; the whole chunk when it names none."""
    picked = [
        chunk[n - 1]
        for n in (numbers if isinstance(numbers, list) else [numbers])
        if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= len(chunk)
    ]
    return [SourceRef(line["id"], line["at"]) for line in picked or chunk]


@dataclass
class Applied:
    facts_added: int = 0
    duplicates: int = 0
    superseded: int = 0
    entities: int = 0
    relations: int = 0
    new_facts: list[str] = field(default_factory=list)


def apply_answer(
    store: BaseStore,
    ctx: Context,
    thread_id: str,
    answer: Mapping[str, Any],
    chunk: Sequence[Line],
    known_keys: Sequence[str],
) -> Applied:
    """Store what the model found in one chunk. Idempotent: applying it again writes the same
    keys and changes nothing (see ``memory/knowledge.py``)."""
    archive = archive_namespace(ctx, thread_id)
    applied = Applied()
    for item in _list(answer.get("facts"), MAX_FACTS_PER_CHUNK):
        text = clean(item.get("fact") or item.get("text"))
        if not text:
            continue
        replaces = item.get("replaces")
        label = str(replaces).strip().upper().lstrip("[").rstrip("]") if replaces else ""
        old_key = None
        if label.startswith("K") and label[1:].isdigit() and 1 <= int(label[1:]) <= len(known_keys):
            old_key = known_keys[int(label[1:]) - 1]
        result = store_fact(
            store,
            archive,
            text,
            _sources(item.get("from"), chunk),
            thread_id=thread_id,
            replaces=old_key,
        )
        if result.outcome == "duplicate":
            applied.duplicates += 1
        else:
            applied.facts_added += 1
            applied.superseded += result.outcome == "superseded"
            applied.new_facts.append(text)
    for item in _list(answer.get("entities"), MAX_ITEMS_PER_CHUNK):
        if merge_entity(
            store,
            ctx,
            str(item.get("name") or ""),
            str(item.get("type") or "other"),
            str(item.get("about") or ""),
            _sources(item.get("from"), chunk),
        ):
            applied.entities += 1
    for item in _list(answer.get("relations"), MAX_ITEMS_PER_CHUNK):
        if add_relation(
            store,
            ctx,
            str(item.get("subject") or ""),
            str(item.get("relation") or ""),
            str(item.get("object") or ""),
            _sources(item.get("from"), chunk),
        ):
            applied.relations += 1
    return applied


def _store(runtime: Runtime[Context]) -> BaseStore:
    if runtime.store is None:
        raise ValueError(
            "consolidation needs a store (archival memory): compile the graph with one, or "
            "run it on a LangGraph server, which provides its own"
        )
    return runtime.store


def read_history_steps(
    state: ConsolidationState, runtime: Runtime[Context], *, spec: ConsolidationSpec
) -> NodeSteps[dict[str, Any]]:
    config = get_config()
    ctx = spec.context(runtime, config)
    store = _store(runtime)
    thread_id = state["thread_id"]
    checkpointer = yield from spec.history(config)
    if checkpointer is None:
        raise ValueError("consolidation needs the checkpointer that holds the thread's history")
    cursor = yield blocking(read_cursor, store, ctx, thread_id)
    batch = yield from read_log(checkpointer, thread_id, dict(cursor.get("log") or {}))
    lines = [line for m in batch.messages if (line := message_line(m)) is not None]
    through = cursor.get("through")
    ids = [line["id"] for line in lines]
    if through in ids:  # a run that stopped half-way: skip what it finished
        lines = lines[ids.index(through) + 1 :]
    if not lines:
        yield blocking(write_cursor, store, ctx, thread_id, {"log": batch.cursor, "through": None})
    return {
        "user_id": ctx.user_id,
        "pending": lines,
        "log_cursor": batch.cursor,
        "messages_read": len(lines),
        "done": 0,
        "chunks": 0,
    }


def extract_knowledge_steps(
    state: ConsolidationState, runtime: Runtime[Context], *, spec: ConsolidationSpec
) -> NodeSteps[dict[str, Any]]:
    config = get_config()
    ctx = spec.context(runtime, config)
    store = _store(runtime)
    thread_id = state["thread_id"]
    pending = state.get("pending") or []
    # Off the event loop: counting tokens may load the tokenizer's files the first time.
    chunk = yield blocking(next_chunk, pending, chunk_tokens(ctx))
    rest = pending[len(chunk) :]
    cursor = yield blocking(read_cursor, store, ctx, thread_id)
    saved = cursor.get("pending")
    notes: list[str] = []
    where = f"messages {state.get('done', 0) + 1}-{state.get('done', 0) + len(chunk)}"
    if saved and saved.get("last_id") == chunk[-1]["id"]:
        # Resuming a chunk whose answer was saved: apply that answer, no second model call.
        answer, known_keys = saved.get("answer"), list(saved.get("known_keys") or [])
    else:
        query = " ".join(line["text"] for line in chunk)[:2_000]
        known = yield blocking(
            live_facts, store, archive_namespace(ctx, thread_id), query, KNOWN_FACTS
        )
        known_keys = [item.key for item in known]
        prompt = [
            SystemMessage(EXTRACT_PROMPT),
            HumanMessage(render_chunk(chunk, [str(i.value.get("content", "")) for i in known])),
        ]
        answer = yield from ask_for_json(spec, ctx, prompt, where, notes, read_extraction)
        yield blocking(
            write_cursor,
            store,
            ctx,
            thread_id,
            {
                **cursor,
                "pending": {"last_id": chunk[-1]["id"], "answer": answer, "known_keys": known_keys},
            },
        )
    applied = Applied()
    if answer is not None:
        applied = yield blocking(apply_answer, store, ctx, thread_id, answer, chunk, known_keys)
    finished = not rest
    next_cursor = (
        {"log": state.get("log_cursor") or {}, "through": None}
        if finished
        else {"log": cursor.get("log") or {}, "through": chunk[-1]["id"]}
    )
    yield blocking(write_cursor, store, ctx, thread_id, next_cursor)
    return {
        "pending": rest,
        "done": state.get("done", 0) + len(chunk),
        "chunks": state.get("chunks", 0) + 1,
        "facts_added": state.get("facts_added", 0) + applied.facts_added,
        "duplicates": state.get("duplicates", 0) + applied.duplicates,
        "superseded": state.get("superseded", 0) + applied.superseded,
        "entities": state.get("entities", 0) + applied.entities,
        "relations": state.get("relations", 0) + applied.relations,
        "new_facts": applied.new_facts,
        "notes": notes,
    }


def read_extraction(text: str) -> dict[str, Any] | None:
    """A chunk's answer: the JSON object asked for, or, where a small model broke its
    structure, the facts, entities and relations its intact items are (told apart by their
    fields, not by where they sit)."""
    whole = json_object_in(text)
    if whole is not None and any(key in whole for key in ("facts", "entities", "relations")):
        return whole
    answer: dict[str, list[Any]] = {"facts": [], "entities": [], "relations": []}
    for item in _items_within(json_objects_in(text)):
        if "fact" in item:
            answer["facts"].append(item)
        elif "subject" in item and "object" in item:
            answer["relations"].append(item)
        elif "name" in item:
            answer["entities"].append(item)
    return answer if any(answer.values()) else whole


def read_profile(text: str) -> dict[str, Any] | None:
    """The profile answer: the JSON object asked for, or, where a small model wrote the block
    as a set of strings (``{"human": {"Jon ...", "Jon ..."}}``, seen from Qwen2.5-Coder-1.5B),
    those strings as its lines."""
    found = json_object_in(text)
    if found is not None:
        return found
    opened = re.search(rf'"{PROFILE_BLOCK}"\s*:\s*[{{\[]', text)
    if opened is None:
        return None
    lines = re.findall(r'"((?:[^"\\]|\\.)*)"', text[opened.end() :])
    return {PROFILE_BLOCK: "\n".join(json.loads(f'"{line}"') for line in lines)} if lines else None


def _items_within(value: Any) -> Iterator[Mapping[str, Any]]:
    """The objects in ``value`` that look like items (a fact, a relation, an entity), at any
    depth: an intact wrapper such as ``{"relations": [...]}`` holds its items."""
    if isinstance(value, Mapping):
        if any(key in value for key in ("fact", "subject", "name")):
            yield value
            return
        value = list(value.values())
    if isinstance(value, list):
        for element in value:
            yield from _items_within(element)


def ask_for_json(
    spec: ConsolidationSpec,
    ctx: Context,
    prompt: list[BaseMessage],
    where: str,
    notes: list[str],
    read: Callable[[str], dict[str, Any] | None] = json_object_in,
) -> NodeSteps[dict[str, Any] | None]:
    """The model's answer as a JSON object, or None with a note (a bad or empty answer, or a
    failed call, skips this piece of work; the run goes on)."""
    try:
        # Loading may do I/O (asking whether Ollama answers, for the "auto" model).
        model = yield blocking(spec.agent.summarizer_model, ctx)
        answer = yield model_call(model, prompt)
    except Exception as error:  # a dead model skips the piece; the next run retries it
        logger.warning("consolidation: model call failed on %s: %s", where, error)
        notes.append(f"{where}: the model call failed ({type(error).__name__}: {error}); skipped")
        return None
    text = answer.text if isinstance(answer, BaseMessage) else str(answer)
    found = read(text)
    if found is None:
        shown = " ".join(text.split())[:120] or "(empty)"
        notes.append(f"{where}: the model's answer was not a JSON object ({shown}); skipped")
    return found


def update_core_memory_steps(
    state: ConsolidationState,
    runtime: Runtime[Context],
    *,
    spec: ConsolidationSpec,
    agent_for: Callable[[Any], Any],
) -> NodeSteps[dict[str, Any]]:
    """Fold the run's new facts into the ``human`` block: one normal block edit of the thread
    (``memory/blocks.py``'s rethink, checked against the block's limit), so the thread's block
    history shows it. ``agent_for(checkpointer)`` compiles the agent on the history's
    checkpointer: its ``update_state`` writes the edit as a checkpoint of the thread."""
    facts = state.get("new_facts") or []
    if not facts:
        return {}
    config = get_config()
    ctx = spec.context(runtime, config)
    agent_graph = agent_for((yield from spec.history(config)))
    thread = {
        "configurable": {"thread_id": state["thread_id"]},
        # Names the edit in the thread's block history (memory/block_history.py).
        "metadata": edit_metadata(
            f"consolidation: the '{PROFILE_BLOCK}' block rewritten with {len(facts)} new facts"
        ),
    }
    snapshot = yield Call(
        run=lambda: agent_graph.get_state(thread), arun=lambda: agent_graph.aget_state(thread)
    )
    blocks = dict((snapshot.values or {}).get("blocks") or {})
    block = blocks.get(PROFILE_BLOCK)
    if block is None or block["read_only"]:
        return {
            "notes": [
                f"the thread has no writable '{PROFILE_BLOCK}' block; core memory left as it was"
            ]
        }
    notes: list[str] = []
    request = PROFILE_PROMPT.format(
        label=PROFILE_BLOCK,
        limit=block["limit"],
        size=len(block["value"]),
        value=clean(block["value"], block["limit"]) if block["value"] else "(empty)",
        facts="\n".join(f"- {fact}" for fact in facts[-60:]),
    )
    prompt: list[BaseMessage] = [HumanMessage(request)]
    for _attempt in range(2):
        answer = yield from ask_for_json(
            spec, ctx, prompt, f"the '{PROFILE_BLOCK}' block", notes, read_profile
        )
        if answer is None:
            return {"notes": notes}
        proposed = answer.get(PROFILE_BLOCK)
        if isinstance(proposed, list) and all(isinstance(line, str) for line in proposed):
            proposed = "\n".join(proposed)  # the profile as a list of lines
        if proposed is None or not isinstance(proposed, str) or not proposed.strip():
            return {"notes": notes}
        proposed = clean_block(proposed)
        if proposed == block["value"]:
            return {"notes": notes}
        try:
            updated = rethink(blocks, PROFILE_BLOCK, proposed)[PROFILE_BLOCK]
            if not grounded(proposed, [block["value"], *facts]):
                # Qwen2.5-Coder-1.5B answered with the prompt's own example text once.
                raise BlockEditError(
                    "the proposal repeats nothing of the block or the new facts; nothing was "
                    "changed. Write the profile itself, from the block and the facts."
                )
        except BlockEditError as error:
            notes.append(f"the '{PROFILE_BLOCK}' block proposal was refused: {error}")
            prompt = [
                *prompt,
                AIMessage(json.dumps(answer)),
                HumanMessage(f"{error} Write it again, at most {block['limit']} characters."),
            ]
            continue
        values = {"blocks": {PROFILE_BLOCK: updated}}
        # As the tool executor's update: the thread rests as after a turn (no node pending).
        yield Call(
            run=lambda v=values: agent_graph.update_state(thread, v, as_node="execute_tools"),
            arun=lambda v=values: agent_graph.aupdate_state(thread, v, as_node="execute_tools"),
        )
        change = f"{PROFILE_BLOCK}: {len(block['value'])} -> {len(updated['value'])} characters"
        return {"block_edits": [change], "notes": notes}
    return {"notes": notes}


def grounded(proposal: str, sources: Sequence[str]) -> bool:
    """Whether a proposed block shares a topic word with what it was written from (the old
    block, the new facts): a profile that shares none is not about this user."""
    known = set(content_terms(" ".join(sources)))
    return bool(known & set(content_terms(proposal)))


def clean_block(text: str) -> str:
    """A proposed block value as stored: defused, lines kept (a profile may be a list), each
    line once (Qwen2.5-Coder-1.5B repeated one line until its output limit)."""
    lines = [clean(line, 10_000) for line in text.strip().splitlines() if line.strip()]
    return "\n".join(dict.fromkeys(lines))
