"""The agent's tool protocol: schemas with ``request_heartbeat``, forgiving argument parsing.

Why not plain LangChain tools run by ``ToolNode``: MemGPT needs, per call, a validated
``request_heartbeat`` flag (small models send it as "true", leave it out or wrap all arguments
in a string), a forced heartbeat when a call fails, and block edits applied one after another
when a single model message edits the same block twice. ``ToolNode`` runs calls in parallel and
turns errors into strings, so the executor is our own; ordinary LangChain tools still plug in
through :func:`from_langchain_tool`.

Every call's arguments are also held to generic bounds before any tool sees them:
``MAX_ARGUMENT_CHARS`` characters in all and ``MAX_ARGUMENT_DEPTH`` levels of nesting, so a
runaway model output (a megabyte string, JSON nested ten thousand deep) is refused with a clear
error instead of exhausting memory or the interpreter's recursion limit. Tools add their own,
tighter limits (a block's character limit, archival's insert cap).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_function
from langgraph.store.base import BaseStore
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.graph.state import Block
from pydantic import BaseModel, ValidationError

HEARTBEAT_ARG = "request_heartbeat"
HEARTBEAT_SCHEMA = {
    "type": "boolean",
    "description": "true to be called again right after this tool returns (to continue working "
    "or to reply with send_message); false if you are done for now.",
}
MAX_ARGUMENT_CHARS = 250_000
"""Characters of all keys and string values of one call; above archival's 200,000 insert cap."""
MAX_ARGUMENT_DEPTH = 32
"""Levels of nesting of one call's arguments; the tool schemas need two."""
# Keys small models wrap the real arguments in: {"arguments": "{...}"}.
_WRAPPER_KEYS = ("arguments", "args", "parameters", "params", "input", "kwargs")


class ToolFailure(Exception):
    """A bad call. The message is shown to the model, so it says what to do instead."""


@dataclass
class ToolOutcome:
    """What one tool call produced."""

    text: str
    blocks: dict[str, Block] | None = None
    """Core memory blocks this call changed (label -> new block)."""
    reply: str | None = None
    """Text shown to the user (send_message)."""


@dataclass
class ToolContext:
    """What a tool may read. ``blocks`` already includes edits made earlier in the same step."""

    blocks: dict[str, Block]
    context: Context
    store: BaseStore | None
    config: RunnableConfig | None
    state: Mapping[str, Any]
    tool_names: frozenset[str] = field(default_factory=frozenset)
    tool_call_id: str | None = None
    """The id of the call being run. The same when a step is re-run from its checkpoint, but
    new when a lost turn is re-sent, so idempotency keys use the turn instead
    (``tools.archival.insert_key``)."""


ToolRun = Callable[[Any, ToolContext], ToolOutcome]
AsyncToolRun = Callable[[Any, ToolContext], Awaitable[ToolOutcome]]


@dataclass(frozen=True)
class AgentTool:
    """A tool the model can call.

    ``args_model`` is the pydantic model of the arguments the model fills in (without
    ``request_heartbeat``, which is added to the schema unless ``heartbeat`` is False).
    """

    name: str
    description: str
    args_model: type[BaseModel] | None
    run: ToolRun
    arun: AsyncToolRun | None = None
    heartbeat: bool = True
    json_schema: dict[str, Any] | None = None
    """Parameters schema for tools without a pydantic model (e.g. dict-schema LangChain tools)."""
    requires_store: bool = False
    """Offered to the model only when the run has a store (archival memory)."""
    requires_knowledge: bool = False
    """Offered only once the user's knowledge graph has data (``MemGPTState.knowledge_graph``)."""

    def schema(self) -> dict[str, Any]:
        """The OpenAI-format tool schema the model is shown."""
        if self.args_model is not None:
            parameters = copy.deepcopy(convert_to_openai_function(self.args_model)["parameters"])
        else:
            parameters = copy.deepcopy(self.json_schema or {"type": "object", "properties": {}})
        parameters.setdefault("properties", {})
        parameters.setdefault("required", [])
        if self.heartbeat:
            parameters["properties"][HEARTBEAT_ARG] = HEARTBEAT_SCHEMA
            parameters["required"] = [*parameters["required"], HEARTBEAT_ARG]
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }

    def parse(self, raw_args: Any) -> tuple[Any, bool | None]:
        """Validate a call's arguments: ``(arguments, request_heartbeat)``.

        The heartbeat is None when the model left it out or sent something unreadable.
        Raises ToolFailure naming what is wrong.
        """
        args = _as_dict(raw_args)
        problem = argument_problem(args)
        if problem:
            raise ToolFailure(problem)
        heartbeat = _as_bool(args.pop(HEARTBEAT_ARG, None))
        args = self._unwrap(args)
        if isinstance(args.get(HEARTBEAT_ARG), bool | str | int):
            inner = _as_bool(args.pop(HEARTBEAT_ARG))
            heartbeat = inner if heartbeat is None else heartbeat
        if self.args_model is None:
            return args, heartbeat
        try:
            return self.args_model.model_validate(args), heartbeat
        except ValidationError as error:
            raise ToolFailure(_explain(self.name, error)) from None

    def _unwrap(self, args: dict[str, Any]) -> dict[str, Any]:
        """Accept ``{"arguments": {...}}`` or ``{"arguments": "{...}"}`` from small models."""
        if self.args_model is None or len(args) != 1:
            return args
        ((key, value),) = args.items()
        if key not in _WRAPPER_KEYS or key in self.args_model.model_fields:
            return args
        inner = _as_dict(value) if isinstance(value, str | dict) else None
        return inner if inner is not None else args


def argument_problem(args: Any) -> str | None:
    """Why a call's arguments are too large or too deeply nested to handle, or None.

    The walk is iterative with early exits: a recursive one would hit the recursion limit on
    the very input it guards against, and a huge one must not be copied to be measured.
    """
    if isinstance(args, str):
        if len(args) > MAX_ARGUMENT_CHARS:
            return _too_long(len(args))
        return None
    chars = 0
    stack: list[tuple[Any, int]] = [(args, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list | tuple):
            if depth >= MAX_ARGUMENT_DEPTH:
                return (
                    f"the arguments are nested more than {MAX_ARGUMENT_DEPTH} levels deep; "
                    "send a flat JSON object as the tool's schema describes"
                )
            if isinstance(value, dict):
                chars += sum(len(str(key)) for key in value)
                children = value.values()
            else:
                children = value
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(value, str):
            chars += len(value)
        if chars > MAX_ARGUMENT_CHARS:
            return _too_long(chars, at_least=True)
    return None


def _too_long(chars: int, at_least: bool = False) -> str:
    size = f"at least {chars:,}" if at_least else f"{chars:,}"
    return (
        f"the arguments have {size} characters, more than the {MAX_ARGUMENT_CHARS:,} "
        "one call may carry; split the content into smaller calls"
    )


def _as_dict(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return dict(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) > MAX_ARGUMENT_CHARS:
            raise ToolFailure(_too_long(len(text)))
        try:
            parsed = json.loads(text) if text else {}
        except RecursionError:
            raise ToolFailure(
                f"the arguments are nested too deeply to parse (limit {MAX_ARGUMENT_DEPTH} "
                "levels); send a flat JSON object"
            ) from None
        except json.JSONDecodeError as error:
            raise ToolFailure(
                f"the arguments are not valid JSON ({error.msg} at position {error.pos}): "
                f"{_clip(text)}"
            ) from None
        if isinstance(parsed, dict):
            return parsed
    raise ToolFailure(f"the arguments must be a JSON object, got: {_clip(str(raw))}")


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "yes", "1", "on"}:
            return True
        if lowered in {"false", "no", "0", "off", "none", "null"}:
            return False
    return None


def _explain(tool_name: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "missing":
            problems.append(f"missing required argument '{where}'")
        else:
            problems.append(f"argument '{where}': {item['msg']}")
    return f"bad arguments for {tool_name}: " + "; ".join(problems)


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def from_langchain_tool(tool: BaseTool) -> AgentTool:
    """Let the model call any LangChain tool, with ``request_heartbeat`` added to its schema."""
    schema = tool.args_schema
    args_model = schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None
    json_schema = None if args_model else convert_to_openai_function(tool)["parameters"]

    def _payload(args: Any) -> dict[str, Any]:
        return args.model_dump(exclude_unset=True) if isinstance(args, BaseModel) else args

    def run(args: Any, ctx: ToolContext) -> ToolOutcome:
        return ToolOutcome(text=str(tool.invoke(_payload(args), config=ctx.config)))

    async def arun(args: Any, ctx: ToolContext) -> ToolOutcome:
        return ToolOutcome(text=str(await tool.ainvoke(_payload(args), config=ctx.config)))

    return AgentTool(
        name=tool.name,
        description=tool.description,
        args_model=args_model,
        json_schema=json_schema,
        run=run,
        arun=arun,
    )
