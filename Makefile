# Z-Image Playground. `make` lists the targets; `make run` serves on http://127.0.0.1:8000 with a job worker,
# `make test` runs the whole suite. Without DATABASE_URL both use an embedded PostgreSQL under var/, and stop it
# again when they end. `make run` installs only what running needs; the other targets add the development tools.

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
UV := var/tools/bin/uv
UV_VERSION := 0.13.9
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(VENV)

# The first interpreter that is Python 3.12 or newer (pyenv shims that point nowhere are skipped).
PYTHON ?= $(shell for candidate in python3.14 python3.13 python3.12 python3 \
	$(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3) /usr/local/bin/python3.1[2-9]; do \
	"$$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 \
	&& { command -v "$$candidate" || echo "$$candidate"; } && break; done)

.PHONY: help run test test-fast lint format bench migrations-check db-stop clean

help: ## list these targets (what a bare `make` does)
	@echo "Z-Image Playground"
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-17s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo "make run serves http://127.0.0.1:8000 to this machine only. PORT=8001 make run for another port,"
	@echo "HOST=0.0.0.0 make run to let teammates in, RELOAD=false make run to stop restarting on code changes."

run: export DEBUG ?= true
run: export REQUIRE_LOGIN ?= false
run: $(VENV)/.synced-run ## serve the playground with a job worker (installs what running needs; Ctrl-C stops it)
	@$(PY) -m playground.dev

test: $(VENV)/.synced ## the whole suite (~15 min): PostgreSQL, a worker, a fake provider, Chromium
	$(VENV)/bin/pytest

test-fast: $(VENV)/.synced ## the quick loop: all but the browser, production and slow specs (~1 min)
	$(VENV)/bin/pytest -m "not browser and not production and not slow"

lint: $(VENV)/.synced ## ruff (checks and formatting) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.synced ## let ruff fix what it can and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.synced ## fail if a model change lacks its migration
	$(PY) manage.py makemigrations --check --dry-run --settings=tests.settings

bench: $(VENV)/.synced ## the benchmarks behind the figures in docs/benchmarks.md (minutes)
	$(PY) -m benchmarks.concurrency
	$(PY) -m benchmarks.gallery
	$(PY) -m benchmarks.grid
	$(PY) -m benchmarks.judging
	$(PY) -m benchmarks.boards

db-stop: ## stop the embedded PostgreSQL should a command have left it running
	@if [ -x $(PY) ]; then $(PY) -m playground.embedded_postgres stop; fi

clean: db-stop ## delete .venv and var/: the database and every stored image go with them
	rm -rf $(VENV) var

# Made under a temporary name and moved into place, so an interrupted first run leaves nothing half-made.
$(UV):
	@[ -n "$(PYTHON)" ] || { echo "Python 3.12 or newer is needed (Django 6.1); install it and retry." >&2; exit 1; }
	@echo "Installing uv $(UV_VERSION) into var/tools with $(PYTHON) ($$($(PYTHON) --version))"
	@rm -rf var/tools.partial
	@$(PYTHON) -m venv var/tools.partial
	@var/tools.partial/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@rm -rf var/tools && mv var/tools.partial var/tools

# `make run`'s environment: the runtime dependencies and the `run` group (embedded PostgreSQL, file watcher).
# Inexact, so that a `make run` after `make test` keeps the development tools instead of uninstalling them.
$(VENV)/.synced-run: pyproject.toml uv.lock | $(UV)
	@echo "Installing what the playground needs to run into $(VENV)"
	@$(UV) sync --quiet --frozen --inexact --no-dev --group run --python "$(PYTHON)"
	@touch $@

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	@echo "Installing the playground and its development tools into $(VENV)"
	@$(UV) sync --quiet --frozen --python "$(PYTHON)"
	@touch $@ $(VENV)/.synced-run
