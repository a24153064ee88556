# The two commands: `make demo` and `make test`. Both install exactly the versions in uv.lock into
# .venv (uv sync is a no-op when .venv already matches). uv comes from PATH, else the package index.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV_VERSION := 0.13.9
UV ?= $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
# never let uv download an interpreter: the one that runs `make` is the one the README asks for
export UV_PYTHON_DOWNLOADS := never
SYNC := $(UV) sync --frozen --python $(PYTHON) --quiet
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck unit bench lock setup setup-dev clean

$(TOOLS)/bin/uv:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "shotline needs Python 3.11+"'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --inexact keeps the dev extras when `make test` installed them before
setup: | $(UV)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "shotline needs Python 3.11+"'
	$(SYNC) --inexact

setup-dev: | $(UV)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "shotline needs Python 3.11+"'
	$(SYNC) --extra dev

demo: setup
	@mkdir -p out
	$(BIN)/shotline render examples/teaser.yaml -o out/teaser.mp4 --providers emulated --scenario examples/emulator-demo.yaml --force

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup-dev
	$(BIN)/mypy .

# independent tests run on every core, plus two workers: the long multi-process tests (see
# tests/conftest.py) mostly wait on their processes, and the extra workers fill that time (on 2 cores:
# 291 s with 4 workers against 306 s with 3, the same tree one after the other on a quiet machine)
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) + 2 )))
# The suite starts ~100 Python processes (workers, servers, CLI runs); with PYTHONDONTWRITEBYTECODE
# set (some CI images set it) each one compiled the whole stack again: ~2 s of CPU per start.
# On a fresh .venv the workers, starting together, each compiled the stack, the libraries and the
# test modules (~9 s of CPU apiece): one collection first compiles them once, on one core, while
# the type check has the other (a collection error is left for the run that follows to report).
unit: setup-dev
	-@env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest --collect-only -q $(PYTEST_ARGS) >/dev/null 2>&1
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15 $(PYTEST_ARGS)

# the type check (one core for ~40 s from a cold cache) runs beside the suite, not before it
test: lint
	@$(MAKE) --no-print-directory -j2 typecheck unit

bench: setup-dev
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# refresh uv.lock to the newest versions pyproject.toml admits; commit the result
lock: | $(UV)
	$(UV) lock --upgrade --python $(PYTHON)

clean:
	rm -rf $(VENV) $(TOOLS) out .shotline .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
