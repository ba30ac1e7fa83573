# The README's two commands: `make run` (the main job: generate + audit of definitions/bump.py)
# and `make test` (lint, types and the whole suite).
# Both create .venv on a fresh machine and install the pinned versions of constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# pytest-xdist: one worker per core, at most 4 (each imports torch and TensorFlow); an idle
# worker takes tests queued for a busy one, so a file of long tests does not hold up the
# end of the run. PARALLEL= runs everything in one process.
PARALLEL ?= -n auto --maxprocesses 4 --dist worksteal

.PHONY: run test test-fast lint generate clean

# torch is installed first, pinned (the CPU build of constraints.txt): resolving the range in
# pyproject.toml could pull a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	@echo "Setting up $(VENV) (once; about 1.5 minutes): the pinned versions of constraints.txt"
	@$(PYTHON) -m venv $(VENV)
	@echo "  pip ..."
	@$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	@echo "  torch 2.13.0, CPU build ..."
	@$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	@echo "  symact with its extras: tensorflow-cpu, matplotlib, test tools ..."
	@$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,tensorflow,plot]'
	@touch $(STAMP)
	@echo "  done."

run: $(STAMP)
	$(BIN)/symact generate definitions/bump.py
	$(BIN)/symact audit definitions/bump.py

generate: $(STAMP)
	$(BIN)/symact generate definitions/*.py

lint: $(STAMP)
	$(BIN)/ruff check symact tests generated benchmarks examples
	$(BIN)/mypy symact

test: lint
	@echo "pytest: the whole suite in one process per core (at most 4); see the README for its time"
	$(BIN)/python -m pytest $(PARALLEL)

test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PARALLEL) -m "not slow" -q

clean:
	rm -rf $(VENV)
