# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck schema bench clean alerts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

$(VENV)/.runtime: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

## make run: install, migrate the embedded SQLite database, seed demo data, serve :8000
run: $(VENV)/.runtime
	$(BIN)/chirp migrate
	$(BIN)/chirp seed --if-empty
	$(BIN)/chirp serve

## make test: lint, type-check, layer contracts, the whole suite on every back end here
test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest
	$(MAKE) --no-print-directory alerts

## make alerts: unit tests of the Prometheus alert rules (promtool: Debian's `prometheus`)
alerts:
	@command -v promtool >/dev/null || { echo "make: promtool is missing; install it: apt-get install -y --no-install-recommends prometheus" >&2; exit 1; }
	promtool check rules ops/prometheus/alerts.yml
	promtool test rules ops/prometheus/alerts_test.yml

## make schema: rewrite the committed schema.graphql from the code
schema: $(VENV)/.runtime
	$(BIN)/chirp schema export --output schema.graphql

clean:
	rm -rf $(VENV) chirp.db chirp.db-wal chirp.db-shm
