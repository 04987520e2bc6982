"""Chat model loading: Ollama where it answers, else the embedded engine; any LangChain model.

- ``"auto"`` (the default): ``ollama:qwen3:4b`` when an Ollama server answers, else the
  embedded llama.cpp engine with ``$MEMGPT_LOCAL_MODEL`` (default ``qwen2.5-coder-1.5b``), so
  the agent runs on a fresh machine. The choice is made once per process and said in one line
  (:func:`resolve_model_spec`);
- ``"ollama:qwen3:4b"`` (or a bare Ollama name such as ``"qwen3:4b"``) gives a ``ChatOllama``
  with ``num_ctx`` set to the context window: without it Ollama silently truncates the prompt
  to its own default;
- ``"llamacpp:<model>"``: the embedded engine (``engine/``) with a packaged model's name, a
  path to a ``.gguf`` file or ``hf:<owner>/<repo>/<file>``;
- other ``"provider:model"`` strings go through ``init_chat_model``; a provider whose LangChain
  package is missing is one line naming the package to install.

Every model gets an output limit (``num_predict`` / ``max_tokens``): the context's
``output_reserve``, which the token budget keeps free in the window.

Model call failures are sorted here too: :func:`describe_transient_error` names the ones worth
retrying (HTTP 5xx, a read timeout, a connection dropped mid-answer, a refused connection) in
one line, and :func:`describe_model_error` the ones that are not (a missing model).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph_memgpt.errors import ModelUnavailableError, first_line

DEFAULT_OLLAMA_URL = "http://localhost:11434"
DEFAULT_MODEL_TIMEOUT = 300.0
TIMEOUT_ENV = "MEMGPT_MODEL_TIMEOUT"
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
        "llamacpp",
    }
)
AUTO_MODEL = "auto"
DEFAULT_OLLAMA_MODEL = "ollama:qwen3:4b"
LOCAL_MODEL_ENV = "MEMGPT_LOCAL_MODEL"
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"
# The LangChain package behind each init_chat_model provider (named when it is missing).
_PROVIDER_PACKAGES = {
    "openai": "langchain-openai",
    "azure_openai": "langchain-openai",
    "anthropic": "langchain-anthropic",
    "google_genai": "langchain-google-genai",
    "google_vertexai": "langchain-google-vertexai",
    "google_anthropic_vertex": "langchain-google-vertexai",
    "bedrock": "langchain-aws",
    "bedrock_converse": "langchain-aws",
    "cohere": "langchain-cohere",
    "fireworks": "langchain-fireworks",
    "together": "langchain-together",
    "mistralai": "langchain-mistralai",
    "huggingface": "langchain-huggingface",
    "groq": "langchain-groq",
    "deepseek": "langchain-deepseek",
    "ibm": "langchain-ibm",
    "nvidia": "langchain-nvidia-ai-endpoints",
    "xai": "langchain-xai",
    "perplexity": "langchain-perplexity",
    "azure_ai": "langchain-azure-ai",
}


class ModelCallFailedError(ModelUnavailableError):
    """A model call failed in a way a retry may fix (5xx, timeout, dropped connection).

    ``reason`` raises it on every failed attempt; the node's retry policy retries on it, and
    the one raised by the last attempt reaches the caller, its message ending with how many
    attempts were made. A subclass of ModelUnavailableError so every caller that already
    reports a dead server in one line (CLI, HTTP API) reports this the same way.
    """

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment variable ``name``, else ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def model_timeout() -> float:
    """Seconds the model client waits for the server (connect, and between streamed chunks)."""
    return env_seconds(TIMEOUT_ENV, DEFAULT_MODEL_TIMEOUT)


def ollama_url(configured: str = "") -> str:
    url = configured or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_URL
    return url if "://" in url else f"http://{url}"


def split_model_spec(spec: str) -> tuple[str, str]:
    """``"ollama:qwen3:4b"`` -> ``("ollama", "qwen3:4b")``; ``"qwen3:4b"`` -> the same."""
    provider, sep, name = spec.partition(":")
    if sep and provider in _KNOWN_PROVIDERS:
        return provider, name
    return "ollama", spec


_cache: dict[tuple[str, int, str, float, int], BaseChatModel] = {}
_cache_lock = threading.Lock()
_auto_choice: dict[str, tuple[str, str]] = {}
logger = logging.getLogger("langgraph_memgpt.models")


def ollama_answers(base_url: str = "", timeout: float = 1.0) -> bool:
    """Whether an Ollama server answers at ``base_url`` (a quick GET of its version)."""
    import httpx

    try:
        return httpx.get(f"{ollama_url(base_url)}/api/version", timeout=timeout).is_success
    except httpx.HTTPError:
        return False


def local_model() -> str:
    """The embedded engine's model when none is named: ``$MEMGPT_LOCAL_MODEL`` or the default."""
    return os.environ.get(LOCAL_MODEL_ENV) or DEFAULT_LOCAL_MODEL


def local_model_spec() -> str:
    return f"llamacpp:{local_model()}"


def resolve_model_spec(spec: str, base_url: str = "") -> tuple[str, str | None]:
    """The concrete spec for ``spec`` and, for ``"auto"``, one line saying what was chosen.

    ``"auto"`` asks Ollama once per process (per URL): a later start of Ollama takes effect
    at the next start of the agent. Does network I/O: call it off the event loop.
    """
    if spec.strip().lower() != AUTO_MODEL:
        return spec, None
    with _cache_lock:
        chosen = _auto_choice.get(base_url)
    if chosen is None:
        if ollama_answers(base_url):
            chosen = (DEFAULT_OLLAMA_MODEL, f"model: {DEFAULT_OLLAMA_MODEL} (Ollama answers)")
        else:
            local = local_model_spec()
            chosen = (
                local,
                f"Ollama is not reachable at {ollama_url(base_url)}; using the embedded "
                f"llama.cpp engine with {local.removeprefix('llamacpp:')} instead "
                "(set MEMGPT_MODEL to choose another, e.g. llamacpp:qwen2.5-coder-0.5b or "
                "ollama:qwen3:4b)",
            )
        with _cache_lock:
            _auto_choice[base_url] = chosen
        logger.info(chosen[1])
    return chosen


LOCAL_PROVIDERS = frozenset({"ollama", "llamacpp"})


def is_local_model(model: BaseChatModel | None, spec: str) -> bool:
    """Whether the agent's model runs on the user's machine: Ollama or the embedded engine
    (the ``model`` instance when one was given, else the spec; ``"auto"`` is always one)."""
    if model is not None:
        # By name: importing langchain_ollama here would load it for every other provider too.
        return any(cls.__name__ in {"ChatOllama", "ChatLlamaCpp"} for cls in type(model).__mro__)
    if spec.strip().lower() == AUTO_MODEL:
        return True
    return split_model_spec(spec)[0] in LOCAL_PROVIDERS


def load_chat_model(
    spec: str, *, context_window: int, base_url: str = "", max_output_tokens: int = 512
) -> BaseChatModel:
    """The chat model for a spec, built once per process per (spec, window, url, timeout,
    output limit). ``"auto"`` is resolved first (which may probe Ollama: call off the loop)."""
    spec, _ = resolve_model_spec(spec, base_url)
    # The timeout is part of the key so a changed MEMGPT_MODEL_TIMEOUT takes effect without a
    # restart of the process (tests, and a server whose operator lowers it).
    timeout = model_timeout()
    key = (spec, context_window, base_url, timeout, max_output_tokens)
    with _cache_lock:
        model = _cache.get(key)
        if model is None:
            model = _build(spec, context_window, base_url, timeout, max_output_tokens)
            _cache[key] = model
    return model


class MissingProviderError(ModelUnavailableError):
    """The LangChain package for a ``provider:model`` spec is not installed."""


def _build(
    spec: str, context_window: int, base_url: str, timeout: float, max_output_tokens: int
) -> BaseChatModel:
    provider, name = split_model_spec(spec)
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        reasoning = os.environ.get("MEMGPT_OLLAMA_REASONING")
        return ChatOllama(
            model=name,
            base_url=ollama_url(base_url),
            num_ctx=context_window,
            num_predict=max_output_tokens,
            reasoning=None if reasoning in (None, "") else reasoning.lower() == "true",
            client_kwargs={"timeout": timeout},
        )
    if provider == "llamacpp":
        from langgraph_memgpt.engine.server import ChatLlamaCpp

        return ChatLlamaCpp(
            model_ref=name or local_model(),
            context_window=context_window,
            max_tokens=max_output_tokens,
            timeout=timeout,
        )
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(name, model_provider=provider, max_tokens=max_output_tokens)
    except ImportError as error:
        package = _PROVIDER_PACKAGES.get(provider, f"the LangChain package for {provider}")
        raise MissingProviderError(
            f"model '{spec}' needs {package}, which is not installed: pip install {package}"
        ) from error


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


def describe_transient_error(error: BaseException, model: BaseChatModel) -> str | None:
    """A one-line explanation if ``error`` is a model-call failure a retry may fix, else None.

    Retried: HTTP 5xx (except Ollama's 500 "error parsing tool call", which is the model's
    fault and is answered as an invalid tool call instead), a timeout, a connection dropped
    mid-answer, a refused connection (a server that is restarting).
    """
    import httpx

    name = getattr(model, "model", None) or getattr(model, "model_name", None) or type(model)
    host = getattr(model, "base_url", None) or ""
    where = f"Ollama at {host}" if host else "the model server"
    chain = _chain(error)
    if any(isinstance(e, httpx.TimeoutException | TimeoutError) for e in chain) and not any(
        isinstance(e, httpx.ConnectTimeout) for e in chain
    ):
        timeout = (getattr(model, "client_kwargs", None) or {}).get("timeout")
        within = f" within {timeout:g}s ({TIMEOUT_ENV})" if isinstance(timeout, float | int) else ""
        return f"no answer from {where} for model '{name}'{within}"
    if _is_connection_error(error):
        return describe_model_error(error, model)
    dropped = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, ConnectionResetError)
    if any(isinstance(e, dropped) for e in chain):
        return f"{where} dropped the connection mid-answer for model '{name}' ({_detail(error)})"
    status = _status_code(error)
    if status is not None and 500 <= status < 600 and "tool call" not in str(error).lower():
        return f"{where} failed for model '{name}': HTTP {status} ({_detail(error)})"
    return None


def _status_code(error: BaseException) -> int | None:
    for current in _chain(error):
        status = getattr(current, "status_code", None)
        if isinstance(status, int) and status > 0:
            return status
        response = getattr(current, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and status > 0:
            return status
    return None


def _detail(error: BaseException) -> str:
    text = first_line(str(getattr(error, "error", None) or error))
    return f"{type(error).__name__}: {text}" if text != "no details" else type(error).__name__


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and its causes / contexts (clients often re-raise ``from None``)."""
    seen: set[int] = set()
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _is_connection_error(error: BaseException) -> bool:
    import httpx

    kinds = (ConnectionRefusedError, httpx.ConnectError, httpx.ConnectTimeout)
    for current in _chain(error):
        if isinstance(current, kinds):
            return True
        # The ollama client turns httpx.ConnectError into a bare ConnectionError; a reset
        # mid-stream is a ConnectionError too but means a dropped answer, not a dead server.
        if type(current) is ConnectionError:
            return True
    return False


def usage_input_tokens(message: Any) -> int | None:
    """The prompt size the model reported for a call, if it reported one."""
    usage = getattr(message, "usage_metadata", None)
    if usage and usage.get("input_tokens"):
        return int(usage["input_tokens"])
    return None


def usage_cached_tokens(message: Any) -> int | None:
    """Of the call's prompt, the tokens the engine served from its cache, if it said.

    OpenAI-compatible servers (llama.cpp's) report ``prompt_tokens_details.cached_tokens``,
    which LangChain maps to ``input_token_details.cache_read``; Ollama (0.30 and later) sends
    ``prompt_eval_cached_count``, which ChatOllama leaves in the response metadata.
    """
    usage = getattr(message, "usage_metadata", None) or {}
    cached = (usage.get("input_token_details") or {}).get("cache_read")
    if cached is None:
        cached = (getattr(message, "response_metadata", None) or {}).get("prompt_eval_cached_count")
    return int(cached) if isinstance(cached, int | float) else None
