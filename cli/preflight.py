"""Getting the chat model ready before the first message.

A model that cannot serve (Ollama without the model pulled, a missing API key, an engine not
built yet) would otherwise fail inside the first turn, or stall it for minutes while the
embedded engine builds. Both ``chat`` and ``engine prepare`` run these checks up front and
turn each problem into one line the user can act on.
"""

from __future__ import annotations

import sys

from langgraph_memgpt.errors import error_line, first_line
from langgraph_memgpt.graph.context import Context
from langgraph_memgpt.models import local_model, ollama_url, split_model_spec
from langgraph_memgpt.nodes.agent import AgentSpec


def prepare_model(ctx: Context) -> str | None:
    """Get the chat model ready before the first message: a one-line problem, or None.

    Ollama: the model must be pulled. The embedded engine: build it and fetch the model
    file now, with progress, rather than silently inside the first turn.
    """
    provider, name = split_model_spec(ctx.model)
    if provider == "llamacpp":
        return prepare_engine(name)
    if provider == "ollama":
        return check_ollama(ctx)
    try:
        AgentSpec().chat_model(ctx)  # the very model the turns use (cached), built now
    except Exception as error:  # a missing package, a missing API key: one line either way
        return error_line(error)
    return None


def prepare_engine(model_ref: str) -> str | None:
    """Build llama-server and fetch ``model_ref`` (or the default local model); None if ready."""
    # Imported here: the engine's build machinery is only needed by the embedded engine.
    from langgraph_memgpt.engine.build import EngineBuildError, ensure_llama_server
    from langgraph_memgpt.engine.weights import ModelFileError, resolve_model_file

    try:
        binary = ensure_llama_server()
        path = resolve_model_file(model_ref or local_model())
    except (EngineBuildError, ModelFileError) as error:
        return str(error)
    except OSError as error:  # no room or no permission in the cache folder
        return f"the local engine could not be prepared: {error}"
    print(f"local engine: {binary} · model {path}", file=sys.stderr)
    return None


def check_ollama(ctx: Context) -> str | None:
    """A one-line problem if the configured Ollama model cannot serve, else None."""
    provider, name = split_model_spec(ctx.model)
    if provider != "ollama":
        return None
    # Imported here: only an Ollama model needs the client.
    import httpx
    import ollama

    host = ollama_url(ctx.ollama_base_url)
    try:
        ollama.Client(host=host, timeout=10).show(name)
    except ollama.ResponseError as error:
        if error.status_code == 404:
            return f"model '{name}' is not pulled on Ollama at {host}: run `ollama pull {name}`"
        return f"Ollama at {host} refused model '{name}': {first_line(str(error.error))}"
    except (ConnectionError, httpx.HTTPError) as error:
        return (
            f"cannot reach Ollama at {host} (model '{name}'): is `ollama serve` running? "
            f"({first_line(str(error))})"
        )
    except Exception as error:
        return (
            f"unexpected answer from Ollama at {host} for model '{name}': "
            f"{type(error).__name__}: {first_line(str(error))}"
        )
    return None
