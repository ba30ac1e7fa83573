# The README's two commands: `make run` (the main job: generate + audit of definitions/bump.py)
# and `make test` (lint, types and the whole suite).
# Both create .venv on a fresh machine and install the pinned versions of constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint generate clean

# torch is installed first, pinned (the CPU build of constraints.txt): resolving the range in
# pyproject.toml could pull a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,tensorflow]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/symact generate definitions/bump.py
	$(BIN)/symact audit definitions/bump.py

generate: $(STAMP)
	$(BIN)/symact generate definitions/*.py

lint: $(STAMP)
	$(BIN)/ruff check symact tests generated benchmarks
	$(BIN)/mypy symact

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
