# The two commands a newcomer needs (each sets itself up on a fresh machine):
#   make chat   - chat with the agent in the terminal (needs Ollama; see README)
#   make test   - run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: chat test dev lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
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
