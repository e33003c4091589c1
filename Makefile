# medfed — two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# The verified MedMNIST copies beside the project; override with MEDFED_DATA_DIR=... or --data-dir.
export MEDFED_DATA_DIR ?= $(abspath ../shared/data/medmnist)

.PHONY: demo test lint conformance bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/medfed demo $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench

test: $(VENV)/.installed-dev
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

conformance: $(VENV)/.installed-dev
	$(BIN)/medfed conformance --json runs/conformance.json --html runs/conformance.html

bench: $(VENV)/.installed
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) runs .pytest_cache
