# The README's two commands. Both create .venv on first use and work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The demo: the school's defaults, fewer frames so it ends in about a minute on 2 cores.
RUN_ARGS ?= -n 100 -o output.h5 --overwrite

.PHONY: run test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record which extras are installed; they are redone when pyproject.toml changes.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[numba]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/grayscott run $(RUN_ARGS)

test: $(VENV)/.test-installed
	$(BIN)/python -m ruff check src tests
	$(BIN)/python -m pytest

lint: $(VENV)/.test-installed
	$(BIN)/python -m ruff check src tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
