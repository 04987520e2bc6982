"""Run ``llama-server`` on a GGUF model and talk to it as a LangChain chat model.

Why a managed server process and not llama-cpp-python in the agent's process:

- tool calls: ``llama-server --jinja`` applies the model's own chat template, tools included,
  and parses the calls the template defines (Qwen's ``<tool_call>`` tags, Hermes, Llama 3...);
  llama-cpp-python's chat handlers know a fixed list of formats and none of the 2026 templates.
  What neither parses (small models' bare JSON, ```json fences) our own parser in
  ``nodes/tool_text.py`` turns into calls, the same for every model;
- the same client path as any OpenAI-compatible server (``ChatOpenAI``), with the prompt-cache
  counters (``usage.prompt_tokens_details.cached_tokens``) the token budget and the benchmarks
  read;
- a crash of the engine or a 1 GB model load never takes the agent process (or ``langgraph
  dev``) down, and the GIL stays free while the model computes;
- compiling llama.cpp inside a ``pip install`` (llama-cpp-python) would add 15 minutes to
  every fresh install, chat or not; the server is built once per machine, on first use.

One server per (binary, model file, window, slots) per process, on a free loopback port,
started on the first model call (not when the chat model object is built), health-checked,
its output kept in a log file, and stopped when the process exits.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph_memgpt.engine.build import cache_root, ensure_llama_server
from langgraph_memgpt.engine.weights import resolve_model_file
from langgraph_memgpt.errors import ModelUnavailableError
from pydantic import PrivateAttr

START_TIMEOUT = 300.0
"""Seconds a server may take to load its model (a 1 GB file from a cold disk on 2 cores)."""


class EngineStartError(ModelUnavailableError):
    """The engine did not start. One line with the reason and where its log is."""


@dataclass
class LlamaServer:
    """One ``llama-server`` process serving one model on a loopback port."""

    binary: Path
    model_path: Path
    context_window: int
    threads: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    parallel: int = 1
    """Request slots. One gives the conversation the whole window and the whole KV cache;
    more requests wait their turn in the server's queue."""
    extra_args: tuple[str, ...] = ()
    port: int | None = None
    log_path: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise EngineStartError("the engine is not started")
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--model",
            str(self.model_path),
            "--jinja",
            "--ctx-size",
            str(self.context_window),
            "--parallel",
            str(self.parallel),
            "--threads",
            str(self.threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--alias",
            self.model_path.stem,
            "--no-webui",
            *self.extra_args,
        ]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait until it has loaded the model (HTTP 200 on /health)."""
        logs = cache_root() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # a port taken between our probe and its bind: try another
            self.port = free_port()
            self.log_path = logs / f"llama-server-{self.model_path.stem}-{self.port}.log"
            with open(self.log_path, "w") as log:
                self.process = _launcher.popen(
                    args=self.command(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # a Ctrl-C in the chat is not the engine's
                )
            try:
                self._wait_healthy(timeout)
                return
            except _PortTaken:
                self.stop()
            except BaseException:
                # A Ctrl-C or error while the model loads: the server runs in its own session
                # (a Ctrl-C never reaches it) and is not registered yet, so stop it here.
                self.stop()
                raise
        raise EngineStartError(f"llama-server found no free port; log: {self.log_path}")

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                tail = self.log_tail()
                if "bind" in tail.lower() and "address" in tail.lower():
                    raise _PortTaken
                code = self.process.returncode if self.process else None
                raise EngineStartError(
                    f"llama-server exited with code {code} while loading "
                    f"{self.model_path.name}: {tail.splitlines()[-1] if tail else 'no output'} "
                    f"(log: {self.log_path})"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise EngineStartError(
            f"llama-server did not load {self.model_path.name} within {timeout:.0f} s "
            f"(log: {self.log_path})"
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class _PortTaken(Exception):
    pass


def _die_with_parent(parent: int) -> None:
    """In the server's process before exec: SIGTERM it when the agent's process dies.

    ``atexit`` stops servers on a normal exit only; a SIGKILLed or SIGTERMed agent (``langgraph
    dev`` stopped, a killed worker) would leave a 1 GB model server running with no owner.
    Linux sends the signal when the *thread* that started the child ends, so servers are
    started from one thread that lives as long as the process (``_Launcher``).
    """
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above: nobody would signal
        os._exit(1)


class _Launcher:
    """Starts server processes from one daemon thread (see ``_die_with_parent``)."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[dict[str, Any], queue.SimpleQueue[Any]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, **kwargs: Any) -> subprocess.Popen:
        if not sys.platform.startswith("linux"):
            return subprocess.Popen(**kwargs)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="llama-server-launcher", daemon=True
                )
                self._thread.start()
        answer: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._requests.put((kwargs, answer))
        result = answer.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def _serve(self) -> None:
        parent = os.getpid()
        while True:
            kwargs, answer = self._requests.get()
            try:
                answer.put(subprocess.Popen(preexec_fn=partial(_die_with_parent, parent), **kwargs))
            except BaseException as error:  # handed to the caller, who raises it
                answer.put(error)


_launcher = _Launcher()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_servers: dict[tuple[Any, ...], LlamaServer] = {}
_servers_lock = threading.Lock()


def get_server(
    model_ref: str,
    context_window: int,
    *,
    parallel: int = 1,
    extra_args: Sequence[str] = (),
) -> LlamaServer:
    """The running server for this model and window, started (and built) if needed."""
    binary = ensure_llama_server()
    model_path = resolve_model_file(model_ref)
    key = (str(binary), str(model_path), context_window, parallel, tuple(extra_args))
    with _servers_lock:
        server = _servers.get(key)
        if server is None or not server.running():
            server = LlamaServer(
                binary, model_path, context_window, parallel=parallel, extra_args=tuple(extra_args)
            )
            server.start()
            _servers[key] = server
    return server


@atexit.register
def stop_all() -> None:
    """Stop every server this process started."""
    with _servers_lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()


class ChatLlamaCpp(BaseChatModel):
    """A chat model served by the embedded engine (``llamacpp:<model>`` in a model spec).

    The server starts on the first call, so building the object is free (``langgraph dev``
    imports and Studio's schema calls never start an engine). Calls go through
    ``langchain-openai``'s ``ChatOpenAI``: llama-server is OpenAI-compatible, so streaming,
    tool schemas and usage (the whole prompt in ``input_tokens``, the part served from the
    engine's cache in ``input_token_details.cache_read``) come from one well-tested client.

    Example:
        ```python
        from langgraph_memgpt.engine.server import ChatLlamaCpp

        model = ChatLlamaCpp(model_ref="qwen2.5-coder-1.5b", context_window=4096)
        print(model.invoke("Say hi in three words.").content)
        ```
    """

    model_ref: str
    """A packaged model's name, a path to a .gguf file, or hf:<owner>/<repo>/<file>."""
    context_window: int = 8192
    max_tokens: int | None = 512
    temperature: float = 0.0
    timeout: float = 300.0
    parallel: int = 1
    server_args: tuple[str, ...] = ()

    _client: Any = PrivateAttr(default=None)
    _server: LlamaServer | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def model_name(self) -> str:
        return self.model_ref

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_ref": self.model_ref, "context_window": self.context_window}

    def server(self) -> LlamaServer:
        return get_server(
            self.model_ref, self.context_window, parallel=self.parallel, extra_args=self.server_args
        )

    def client(self) -> Any:
        """The ChatOpenAI talking to the running server (started here if it is not)."""
        with self._lock:
            # Found once, then reused while it runs: finding it checks the binary and the
            # model file (a sha256, or a hub request for hf: models) on every call otherwise.
            if self._client is not None and self._server is not None and self._server.running():
                return self._client
            server = self._server = self.server()
            if self._client is None or self._client.openai_api_base != f"{server.url}/v1":
                from langchain_openai import ChatOpenAI

                self._client = ChatOpenAI(
                    base_url=f"{server.url}/v1",
                    api_key="local",  # llama-server asks for none; the client needs a value
                    model=server.model_path.stem,
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                    timeout=self.timeout,
                    max_retries=0,  # the reason node's RetryPolicy retries, with backoff
                    stream_usage=True,
                )
            return self._client

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self.client()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        client = await asyncio.to_thread(self.client)
        return await client._agenerate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self.client()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        client = await asyncio.to_thread(self.client)
        async for chunk in client._astream(messages, stop=stop, run_manager=run_manager, **kwargs):
            yield chunk
