# The two commands a newcomer needs (each sets itself up on a fresh machine):
#   make chat   - chat with the agent in the terminal (needs Ollama; see README)
#   make test   - run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0

.PHONY: chat test dev lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch first (a wheel on disk on our machines); unpinned it would be CUDA.
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

chat: $(STAMP)
	$(BIN)/langgraph-memgpt chat $(ARGS)

test: $(STAMP)
	$(BIN)/pytest $(ARGS)

dev: $(STAMP)
	$(BIN)/langgraph dev $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
