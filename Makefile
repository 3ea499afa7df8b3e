# The README's two commands. Both create .venv on first use and work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The demo: the school's defaults, fewer frames so it ends in about a minute on 2 cores,
# then a video of the run beside it (a few seconds more).
RUN_ARGS ?= -n 300 -o output.h5 --overwrite
VIDEO    ?= output.mp4

.PHONY: run test lint tutorials docs lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record which extras are installed; they are redone when pyproject.toml or a lock
# changes. The versions come from the locks (exact versions and hashes, made by `make lock`),
# then the package itself without its dependencies.
$(VENV)/.run-installed: pyproject.toml requirements/run.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/run.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml requirements/test.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.run-installed $(VENV)/.docs-installed

$(VENV)/.docs-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

run: $(VENV)/.run-installed
	$(BIN)/grayscott run $(RUN_ARGS) --video $(VIDEO)

test: $(VENV)/.test-installed
	$(BIN)/python -m ruff check src tests notebooks scripts
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest

lint: $(VENV)/.test-installed
	$(BIN)/python -m ruff check src tests notebooks scripts

# The documentation site, into build/site (tests/test_docs.py builds it strictly in make test).
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

# The tutorial notebooks are generated from the solutions; never edit them by hand.
tutorials: $(VENV)/.test-installed
	$(BIN)/python notebooks/make_tutorials.py

# Refresh the locks from pyproject.toml: run's extras (numba, video) and test's. Pins already in
# a lock are kept where pyproject still allows them; LOCK_FLAGS=--upgrade takes the newest.
# One lock serves every platform and Python >= 3.11 (markers), with the hashes of every file.
LOCK_FLAGS ?=
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" --quiet $(LOCK_FLAGS)

lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(LOCK) --extra numba --extra video -o requirements/run.txt
	$(LOCK) --extra test -o requirements/test.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
