# The README's two commands. Both create .venv on first use and work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The demo: the school's defaults, fewer frames so it ends in about a minute on 2 cores,
# then a video of the run beside it (a few seconds more).
RUN_ARGS ?= -n 300 -o output.h5 --overwrite
VIDEO    ?= output.mp4

.PHONY: run test lint tutorials docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record which extras are installed; they are redone when pyproject.toml changes.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[numba,video]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed $(VENV)/.docs-installed

$(VENV)/.docs-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

run: $(VENV)/.run-installed
	$(BIN)/grayscott run $(RUN_ARGS) --video $(VIDEO)

test: $(VENV)/.test-installed
	$(BIN)/python -m ruff check src tests notebooks scripts
	$(BIN)/python -m pytest

lint: $(VENV)/.test-installed
	$(BIN)/python -m ruff check src tests notebooks scripts

# The documentation site, into build/site (tests/test_docs.py builds it strictly in make test).
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

# The tutorial notebooks are generated from the solutions; never edit them by hand.
tutorials: $(VENV)/.test-installed
	$(BIN)/python notebooks/make_tutorials.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
