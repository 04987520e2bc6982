"""Runtime configuration of the agent: the graph's context schema.

Every field can be set per run (``graph.invoke(..., context=Context(...))`` or Studio's
assistant configuration) and falls back to a ``MEMGPT_<FIELD>`` environment variable, then to
the default below. This is the memory-agent template's pattern, extended with type conversion
so that numbers read from the environment are numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_PERSONA = (
    "I am Sam, a friendly and curious assistant with long-term memory. "
    "I remember what people tell me across conversations and use it to help them."
)
DEFAULT_HUMAN = "Nothing is known about the user yet."

ENV_PREFIX = "MEMGPT_"
RETRIEVAL_MODES = ("auto", "off", "recall", "archival", "both")


def _convert(raw: str, like: Any) -> Any:
    """Convert an environment string to the type of the field's default."""
    if isinstance(like, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, float):
        return float(raw)
    return raw


@dataclass(kw_only=True)
class Context:
    """How the agent runs. Fields left at their default read ``MEMGPT_<NAME>`` from the env."""

    model: str = field(
        default="auto",
        metadata={
            "description": "Chat model: 'auto' (Ollama's qwen3:4b where Ollama answers, else "
            "the embedded llama.cpp engine with $MEMGPT_LOCAL_MODEL), 'ollama:<name>' "
            "(ChatOllama), 'llamacpp:<packaged model, .gguf path or hf:owner/repo/file>', or "
            "any 'provider:model' init_chat_model knows, e.g. 'openai:gpt-4o-mini'."
        },
    )
    summarizer_model: str = field(
        default="",
        metadata={"description": "Model for recursive summaries; empty means the chat model."},
    )
    ollama_base_url: str = field(
        default="",
        metadata={"description": "Ollama server URL; empty means $OLLAMA_HOST or localhost."},
    )
    context_window: int = field(
        default=8192,
        metadata={"description": "Context window in tokens; sent to Ollama as num_ctx."},
    )
    max_output_tokens: int = field(
        default=0,
        metadata={
            "description": "Most tokens one model answer may have (sent as num_predict / "
            "max_tokens) and kept free in the window; 0 means 1/8 of the window, 256-4096."
        },
    )
    warning_fraction: float = field(
        default=0.70,
        metadata={"description": "Fill level at which the model is warned of memory pressure."},
    )
    flush_fraction: float = field(
        default=1.00,
        metadata={"description": "Fill level at which the oldest messages are evicted."},
    )
    evict_target_fraction: float = field(
        default=0.50,
        metadata={"description": "Eviction removes old messages until the prompt is this full."},
    )
    prompt_layout: str = field(
        default="cached",
        metadata={
            "description": "'cached': a prompt a local engine can keep in its cache (core memory "
            "as of the last eviction, later edits shown in the conversation; see "
            "graph/prompts.py); 'classic': MemGPT's original layout, rebuilt every call."
        },
    )
    summarizer_context_window: int = field(
        default=0,
        metadata={"description": "Summarizer's window in tokens; 0 means context_window."},
    )
    summary_max_tokens: int = field(
        default=0,
        metadata={"description": "Cap on the recursive summary; 0 means 12% of the window."},
    )
    max_steps: int = field(
        default=50,
        metadata={"description": "Most model calls chained in one turn by request_heartbeat."},
    )
    persona: str = field(
        default=DEFAULT_PERSONA,
        metadata={"description": "Initial value of the 'persona' core memory block."},
    )
    human: str = field(
        default=DEFAULT_HUMAN,
        metadata={"description": "Initial value of the 'human' core memory block."},
    )
    block_char_limit: int = field(
        default=5000,
        metadata={"description": "Character limit of each core memory block."},
    )
    archival_scope: str = field(
        default="user",
        metadata={
            "description": "'user': one archive per user, shared by their threads; "
            "'thread': one archive per thread."
        },
    )
    archival_page_size: int = field(
        default=5, metadata={"description": "Results per page of archival_memory_search."}
    )
    archival_min_similarity: float = field(
        default=0.0,
        metadata={"description": "Drop semantic archival hits below this cosine similarity."},
    )
    retrieval: str = field(
        default="auto",
        metadata={
            "description": "Search memory for each user message before the model answers and "
            "show it the best results: 'recall' (this conversation's history outside the "
            "window), 'archival', 'both', 'off', or 'auto' ('both' for local models, i.e. "
            "Ollama and the embedded engine, which seldom search on their own; 'off' for "
            "others)."
        },
    )
    retrieval_count: int = field(
        default=3,
        metadata={"description": "Most memories shown per user message."},
    )
    retrieval_min_relevance: float = field(
        default=0.25,
        metadata={
            "description": "Least cosine similarity between the user message and a memory "
            "(all-MiniLM-L6-v2) for it to be shown."
        },
    )
    retrieval_max_tokens: int = field(
        default=0,
        metadata={
            "description": "Tokens the retrieved memories may take in the prompt; 0 means a "
            "tenth of the window left for the prompt."
        },
    )
    user_id: str = field(
        default="default",
        metadata={"description": "Whose memory this is: namespaces archival memory."},
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) != f.default:
                continue
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                setattr(self, f.name, _convert(raw, f.default))
        self.validate()

    @property
    def output_reserve(self) -> int:
        """Tokens kept free for the model's answer (its output limit)."""
        if self.max_output_tokens:
            return self.max_output_tokens
        floor = min(256, self.context_window // 4)  # small windows: a quarter at most
        return min(4096, max(floor, self.context_window // 8))

    @property
    def prompt_window(self) -> int:
        """What the prompt may fill: the window minus the answer's reserve. Engines drop the
        OLDEST tokens (the system prompt first) when prompt + answer overflow, so the pressure
        and flush thresholds are fractions of this, never of the whole window."""
        return self.context_window - self.output_reserve

    @property
    def summarizer_window(self) -> int:
        return self.summarizer_context_window or self.context_window

    @property
    def retrieval_token_cap(self) -> int:
        return self.retrieval_max_tokens or self.prompt_window // 10

    @property
    def summary_token_cap(self) -> int:
        return self.summary_max_tokens or max(64, int(self.context_window * 0.12))

    def validate(self) -> None:
        """Reject settings that cannot work, naming the field."""
        if self.context_window < 256:
            raise ValueError(
                f"context_window must be at least 256 tokens, got {self.context_window}"
            )
        if self.max_output_tokens < 0 or self.output_reserve > self.context_window // 2:
            raise ValueError(
                "max_output_tokens must be between 1 and half the context window "
                f"({self.context_window // 2}), or 0 for the default; got {self.max_output_tokens}"
            )
        if not 0 < self.evict_target_fraction < self.flush_fraction:
            raise ValueError(
                "evict_target_fraction must be between 0 and flush_fraction, got "
                f"{self.evict_target_fraction} (flush_fraction={self.flush_fraction})"
            )
        if not 0 < self.warning_fraction <= self.flush_fraction <= 1.0:
            raise ValueError(
                "need 0 < warning_fraction <= flush_fraction <= 1, got "
                f"{self.warning_fraction} and {self.flush_fraction}"
            )
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.archival_scope not in ("user", "thread"):
            raise ValueError(
                f"archival_scope must be 'user' or 'thread', got {self.archival_scope}"
            )
        if self.prompt_layout not in ("cached", "classic"):
            raise ValueError(
                f"prompt_layout must be 'cached' or 'classic', got {self.prompt_layout}"
            )
        if self.retrieval not in RETRIEVAL_MODES:
            raise ValueError(
                f"retrieval must be one of {', '.join(RETRIEVAL_MODES)}, got {self.retrieval!r}"
            )
        if not 1 <= self.retrieval_count <= 20:
            raise ValueError(f"retrieval_count must be 1-20, got {self.retrieval_count}")
        if self.retrieval_max_tokens < 0:
            raise ValueError(
                f"retrieval_max_tokens must be 0 or more, got {self.retrieval_max_tokens}"
            )
        if self.archival_page_size < 1:
            raise ValueError(f"archival_page_size must be positive, got {self.archival_page_size}")
        if self.block_char_limit < 1:
            raise ValueError(f"block_char_limit must be positive, got {self.block_char_limit}")
