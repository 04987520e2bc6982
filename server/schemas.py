"""Request and response bodies of the HTTP API (pydantic models; the OpenAPI docs use them).

The chat models follow OpenAI's Chat Completions API closely enough for its clients and for
Open WebUI: unknown request fields (``temperature``, ``top_p``, ...) are accepted and ignored,
since the agent runs with its own model settings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langgraph_memgpt.memory.archive import MAX_INSERT_CHARS
from langgraph_memgpt.server.auth import USER_ID_REGEX
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, WithJsonSchema

TWO_USERS_RULE = (
    "A request that names a user both here and in the X-User-Id header must name the same "
    "user in both (400 otherwise)."
)
"""The one rule about user ids that JSON Schema cannot state (it spans the header and the
body or query); ``resolve_user`` (server/backend.py) enforces it, the OpenAPI text says it."""
USER_FIELD_DESCRIPTION = (
    "Whose memory: selects the user's archive and their conversation thread. Same as the "
    "X-User-Id header; default: the server's MEMGPT_USER_ID (or 'default'). " + TWO_USERS_RULE
)
USER_ID_SCHEMA: dict[str, Any] = {"type": "string", "pattern": USER_ID_REGEX}
"""A user id in the OpenAPI document: 1-128 letters, digits or _ @ : + = - (no dots)."""
UserId = Annotated[str, WithJsonSchema(USER_ID_SCHEMA)]
"""A user id a request names. Its pattern is declared here and checked for body fields, query
and header alike by ``resolve_user`` (server/backend.py), against the same ``USER_ID_REGEX``;
the body models leave it to that one check, which also gives the clearer message."""

NOT_BLANK: dict[str, Any] = {
    "pattern": r"[^\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
}
"""JSON Schema for "some text that is not only whitespace" (the handlers refuse a blank one
with a 400 of their own words). The class lists exactly what ``str.strip()`` removes, as the
handlers' blank check does: ``\\S`` would not do, since regex dialects disagree on whitespace
(jsonschema-rs, which schemathesis validates with, takes U+3000 or U+001F for text)."""
DateBound = Annotated[
    str,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
                {"type": "string", "maxLength": 0},
            ]
        }
    ),
]
"""A search's time bound: an RFC 3339 date or date-time, or "" for none. The server reads it
with ``datetime.fromisoformat``, so the other ISO 8601 forms (2024-05-08T14:30, no offset:
UTC) are accepted too; anything else is a 400."""
BOUNDS_RULE = (
    "An empty string means no bound. When both bounds are given, the start must be before "
    "the end (400 otherwise)."
)

# -- OpenAI-compatible chat -------------------------------------------------------------------


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(description="'system', 'user', 'assistant' or 'tool'.")
    content: str | list[dict[str, Any]] | None = Field(
        default=None, description="Text, or a list of content parts ({'type': 'text', ...})."
    )


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """Only the newest user message is used: the agent keeps its own history and memory."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="The agent, as listed by GET /v1/models ('memgpt').")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: UserId | None = Field(default=None, description=USER_FIELD_DESCRIPTION)


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


# -- plain chat -------------------------------------------------------------------------------


class ChatRequest(BaseModel):
    """One message in, the agent's whole reply out (``/v1/chat/completions`` for front ends)."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1, description="The user's message.", json_schema_extra=NOT_BLANK
    )
    user_id: UserId | None = Field(
        default=None,
        # 'user', as the other bodies of this API name it, is accepted too.
        validation_alias=AliasChoices("user_id", "user"),
        description=USER_FIELD_DESCRIPTION,
    )


class ChatReply(BaseModel):
    message: str = Field(
        description="The agent's reply: its messages of the turn, joined with a blank line."
    )
    replies: list[str] = Field(description="The agent's messages of the turn, one by one.")
    user_id: str
    thread_id: str = Field(description="The user's conversation thread (a LangGraph thread).")
    run_id: str
    usage: Usage


# -- memory -----------------------------------------------------------------------------------


class MemorySearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1, description="Words or a question.", json_schema_extra=NOT_BLANK
    )
    tags: list[str] | None = Field(default=None, description="Only passages with these tags.")
    tag_match: Literal["any", "all"] = "any"
    start_datetime: DateBound | None = Field(
        default=None, description="Lower bound: a date or date-time (ISO 8601). " + BOUNDS_RULE
    )
    end_datetime: DateBound | None = Field(
        default=None,
        description="Upper bound: a date (that day included) or date-time. " + BOUNDS_RULE,
    )
    limit: int = Field(default=10, ge=1, le=100)
    user: UserId | None = Field(default=None, description=USER_FIELD_DESCRIPTION)


class Passage(BaseModel):
    id: str
    content: str
    tags: list[str]
    created_at: str
    relevance: float = Field(description="Rank-fusion score of keyword and semantic rankings.")
    similarity: float | None = Field(description="Cosine similarity, if found by meaning.")
    source: str | None = None


class MemorySearchResponse(BaseModel):
    user: str
    query: str
    total: int = Field(description="Matching passages before the limit.")
    results: list[Passage]


class CoreBlock(BaseModel):
    value: str
    limit: int
    chars: int
    description: str
    read_only: bool
    updated_at: str


class MemoryAddRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(
        min_length=1,
        max_length=MAX_INSERT_CHARS,
        # Not declared as NOT_BLANK: a pattern beside this maxLength makes schemathesis's data
        # generation too slow. The description says it.
        description="Text to remember (not only whitespace); long text is split into passages.",
    )
    memory_type: Literal["archival", "core"] = Field(
        default="archival",
        description="'archival': stored as passages in the user's archive; 'core': appended "
        "to the core memory block 'label' of the user's thread (its limit applies). Recall "
        "memory is the conversation itself: it grows by chatting.",
    )
    label: str = Field(default="human", description="The block to append to (memory_type 'core').")
    tags: list[str] | None = Field(
        default=None, description="Passage tags (archival only: 400 with 'core')."
    )
    source: str | None = Field(
        default=None, description="Where the text comes from (archival only: 400 with 'core')."
    )
    user: UserId | None = Field(default=None, description=USER_FIELD_DESCRIPTION)


class MemoryAddResponse(BaseModel):
    user: str
    ids: list[str] = Field(description="The stored passages' ids (none for 'core').")
    memory_type: Literal["archival", "core"] = "archival"
    label: str | None = Field(default=None, description="The block appended to ('core').")
    block: CoreBlock | None = Field(default=None, description="The block as it now is ('core').")


class CoreMemory(BaseModel):
    user: str
    thread_id: str
    initialized: bool = Field(
        description="False: the thread has no turn yet; these are the blocks it will start with."
    )
    blocks: dict[str, CoreBlock]


class CoreBlockPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="The block's complete new value (within its limit).")
    user: UserId | None = Field(default=None, description=USER_FIELD_DESCRIPTION)


class Status(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    context_window: int
    thread_id: str | None
    user_id: str
    budget: dict[str, Any] | None = Field(description="Tokens by section of the thread's prompt.")
    recall_messages: int
    archival_passages: int | None
    storage: dict[str, str | None]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ConsolidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: UserId | None = Field(default=None, description=USER_FIELD_DESCRIPTION)


class ConsolidateResponse(BaseModel):
    """What one consolidation run did (``graph/consolidate.py``'s report)."""

    user: str
    thread_id: str
    messages: int = Field(description="Messages read since the last consolidation.")
    chunks: int = 0
    facts_added: int = 0
    duplicates: int = Field(default=0, description="Facts that were stored already.")
    superseded: int = Field(default=0, description="Older facts the new ones replaced.")
    entities: int = Field(default=0, description="Entity mentions merged into the graph.")
    relations: int = Field(default=0, description="Relation mentions merged into the graph.")
    block_edits: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
