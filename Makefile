# Z-Image Playground. `make run` serves on http://127.0.0.1:8000 with a job worker, `make test` runs the whole
# suite. Without DATABASE_URL both use an embedded PostgreSQL under var/, and stop it again when they end.

SHELL := /bin/bash
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

.PHONY: run test test-fast lint format bench migrations-check db-stop clean

run: export DEBUG ?= true
run: export REQUIRE_LOGIN ?= false
run: $(VENV)/.synced
	$(PY) -m playground.dev

test: $(VENV)/.synced
	$(VENV)/bin/pytest

# The quick loop while working: everything but the browser, production and slow specs (make test runs them all).
test-fast: $(VENV)/.synced
	$(VENV)/bin/pytest -m "not browser and not production and not slow"

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.synced
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.synced
	$(PY) manage.py makemigrations --check --dry-run --settings=tests.settings

bench: $(VENV)/.synced
	$(PY) -m benchmarks.concurrency
	$(PY) -m benchmarks.gallery
	$(PY) -m benchmarks.grid
	$(PY) -m benchmarks.judging
	$(PY) -m benchmarks.boards

db-stop:
	-[ -x $(PY) ] && $(PY) -m playground.embedded_postgres stop

clean: db-stop
	rm -rf $(VENV) var

# Made under a temporary name and moved into place, so an interrupted first run leaves nothing half-made.
$(UV):
	@[ -n "$(PYTHON)" ] || { echo "Python 3.12 or newer is needed (Django 6.1); install it and retry." >&2; exit 1; }
	@echo "Using $(PYTHON) ($$($(PYTHON) --version))"
	rm -rf var/tools.partial
	$(PYTHON) -m venv var/tools.partial
	var/tools.partial/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	rm -rf var/tools && mv var/tools.partial var/tools

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python "$(PYTHON)"
	@touch $@
