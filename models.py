"""Chat model loading: ChatOllama by default, any LangChain chat model otherwise.

``"ollama:qwen3:4b"`` (or a bare Ollama name such as ``"qwen3:4b"``) gives a ``ChatOllama``
with ``num_ctx`` set to the context window: without it Ollama silently truncates the prompt to
its own default. Other ``"provider:model"`` strings go through ``init_chat_model``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from langchain_core.language_models import BaseChatModel

DEFAULT_OLLAMA_URL = "http://localhost:11434"
# Providers init_chat_model resolves; anything else before the first ':' is an Ollama tag
# ("qwen3:4b" is a model name, not provider "qwen3").
_KNOWN_PROVIDERS = frozenset(
    {
        "openai",
        "anthropic",
        "azure_openai",
        "azure_ai",
        "google_vertexai",
        "google_genai",
        "bedrock",
        "bedrock_converse",
        "cohere",
        "fireworks",
        "together",
        "mistralai",
        "huggingface",
        "groq",
        "google_anthropic_vertex",
        "deepseek",
        "ibm",
        "nvidia",
        "xai",
        "perplexity",
        "ollama",
    }
)


class ModelUnavailableError(RuntimeError):
    """The model server cannot be reached or does not have the model. One clear line."""


def ollama_url(configured: str = "") -> str:
    url = configured or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_URL
    return url if "://" in url else f"http://{url}"


def split_model_spec(spec: str) -> tuple[str, str]:
    """``"ollama:qwen3:4b"`` -> ``("ollama", "qwen3:4b")``; ``"qwen3:4b"`` -> the same."""
    provider, sep, name = spec.partition(":")
    if sep and provider in _KNOWN_PROVIDERS:
        return provider, name
    return "ollama", spec


_cache: dict[tuple[str, int, str], BaseChatModel] = {}
_cache_lock = threading.Lock()


def load_chat_model(spec: str, *, context_window: int, base_url: str = "") -> BaseChatModel:
    """The chat model for a spec, built once per process per (spec, window, url)."""
    key = (spec, context_window, base_url)
    with _cache_lock:
        model = _cache.get(key)
        if model is None:
            model = _build(spec, context_window, base_url)
            _cache[key] = model
    return model


def _build(spec: str, context_window: int, base_url: str) -> BaseChatModel:
    provider, name = split_model_spec(spec)
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        reasoning = os.environ.get("MEMGPT_OLLAMA_REASONING")
        return ChatOllama(
            model=name,
            base_url=ollama_url(base_url),
            num_ctx=context_window,
            reasoning=None if reasoning in (None, "") else reasoning.lower() == "true",
            client_kwargs={"timeout": float(os.environ.get("MEMGPT_MODEL_TIMEOUT", "300"))},
        )
    from langchain.chat_models import init_chat_model

    return init_chat_model(name, model_provider=provider)


def describe_model_error(error: BaseException, model: BaseChatModel) -> str | None:
    """A one-line explanation if ``error`` means the model server is down or lacks the model."""
    name = getattr(model, "model", None) or getattr(model, "model_name", None) or type(model)
    host = getattr(model, "base_url", None) or ""
    status = getattr(error, "status_code", None)
    text = str(error)
    if status == 404 or ("not found" in text.lower() and "model" in text.lower()):
        pull = f" (run `ollama pull {name}`)" if host else ""
        return f"model '{name}' is not available at {host or 'the provider'}{pull}"
    if _is_connection_error(error):
        where = f"Ollama at {host}" if host else "the model server"
        return f"cannot reach {where} for model '{name}': is it running? ({first_line(text)})"
    return None


def _is_connection_error(error: BaseException) -> bool:
    import httpx

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | httpx.ConnectError | httpx.ConnectTimeout):
            return True
        current = current.__cause__ or current.__context__
    return False


def first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "no details"


def usage_input_tokens(message: Any) -> int | None:
    """The prompt size the model reported for a call, if it reported one."""
    usage = getattr(message, "usage_metadata", None)
    if usage and usage.get("input_tokens"):
        return int(usage["input_tokens"])
    return None
