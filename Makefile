# The two commands: `make run` serves the app on an embedded SQLite database,
# `make test` runs lint, types and the whole suite (SQLite, then PostgreSQL).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8000
# The PostgreSQL run uses DATABASE_URL when it points at PostgreSQL, else the local server.
PG_TEST_URL ?= $(if $(filter postgres%,$(DATABASE_URL)),$(DATABASE_URL),postgresql://postgres@127.0.0.1:5432/rocketdbaas)
# One test process per core, each with its own test database (pytest-django adds a suffix per
# worker); a test file stays on one worker, so its module fixtures start once.
PYTEST_ARGS ?= -n auto --dist loadfile
# schemathesis yields one test per API operation under a single node id, which xdist would run
# once: that file runs in a process of its own after the rest.
SERIAL_TESTS := tests/integration/test_schemathesis.py
PYTEST_ALL = $(BIN)/pytest $(PYTEST_ARGS) --ignore=$(SERIAL_TESTS) && $(BIN)/pytest $(SERIAL_TESTS)

.PHONY: run test lint types test-sqlite test-postgres test-deps demo bench clean runtime-packages

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install -q uv==0.13.9

# What `make run` installs: the runtime dependencies and the ansible extra (patch recipes may
# run playbooks), without the dev group (pytest, mypy, ruff, Playwright, …) that `make test` adds.
RUNTIME_DEPS := --no-dev --extra ansible

$(VENV)/.runtime: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen $(RUNTIME_DEPS)
	@rm -f $(VENV)/.dev && touch $@

$(VENV)/.dev: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras
	@rm -f $(VENV)/.runtime && touch $@

# The package list of the runtime install (a test checks it holds no development tool).
runtime-packages: | $(UV)
	@$(UV) export --frozen $(RUNTIME_DEPS) --no-hashes --no-header --no-annotate --no-emit-project

run: $(VENV)/.runtime
	$(BIN)/rocketdbaas migrate --no-input -v 0
	$(BIN)/rocketdbaas bootstrap
	@if [ "$(DEMO)" = "1" ]; then $(BIN)/rocketdbaas demo; fi
	$(BIN)/rocketdbaas serve --host $(HOST) --port $(PORT)

demo: $(VENV)/.runtime
	$(BIN)/rocketdbaas migrate --no-input -v 0
	$(BIN)/rocketdbaas demo

test-deps:
	@bash scripts/test-deps.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(VENV)/.dev
	$(BIN)/mypy src

test-sqlite: $(VENV)/.dev
	unset DATABASE_URL; $(PYTEST_ALL)

test-postgres: $(VENV)/.dev
	@if $(BIN)/python scripts/pg_reachable.py "$(PG_TEST_URL)"; then \
		export DATABASE_URL=$(PG_TEST_URL); $(PYTEST_ALL); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) is required under CI but not reachable"; exit 1; \
	else \
		echo "SKIPPED: the PostgreSQL run ($(PG_TEST_URL) not reachable; set PG_TEST_URL)"; \
	fi

test: test-deps lint types test-sqlite test-postgres

# Benchmarks run on PostgreSQL (BENCH_DATABASE_URL; a throwaway database is created and dropped).
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/rocketdbaas_bench
bench: $(VENV)/.dev
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python benchmarks/pool_pull_and_lock.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python benchmarks/clusters_servers.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python benchmarks/telemetry.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python benchmarks/patching.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python benchmarks/activities_backups.py

clean:
	rm -rf $(VENV) .tools var
