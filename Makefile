# medfed — two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# The verified MedMNIST copies beside the project; override with MEDFED_DATA_DIR=... or --data-dir.
export MEDFED_DATA_DIR ?= $(abspath ../shared/data/medmnist)

.PHONY: demo test lint conformance bench clean browser

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
	$(BIN)/mypy src/medfed src/medfed_runtime

# The web pages are tested in Debian's Chromium, driven by Playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
	  echo "chromium is not installed (apt-get install chromium): the browser tests will say so"

test: $(VENV)/.installed-dev browser
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/medfed src/medfed_runtime
	$(BIN)/python -m pytest $(PYTEST_ARGS)

conformance: $(VENV)/.installed-dev
	$(BIN)/medfed conformance --json runs/conformance.json --html runs/conformance.html

bench: $(VENV)/.installed
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) runs .pytest_cache
