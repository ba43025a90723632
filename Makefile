# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-fast lint typecheck schema bench clean alerts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

$(VENV)/.runtime: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

LOCALSTRIPE_PORT := 8420

## make run: install, migrate the embedded SQLite database, seed demo data, start localstripe
## on 127.0.0.1:8420 (or reuse the one answering there), serve :8000; stop localstripe after.
## serve runs in the background so that a SIGTERM to make or to this shell also stops it.
run: $(VENV)/.runtime
	$(BIN)/chirp migrate
	$(BIN)/chirp seed --if-empty
	@answers() { $(BIN)/python -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$$1" 2>/dev/null; }; \
	stripe=; serve=; tries=0; \
	trap '[ -z "$$serve" ] || kill -TERM $$serve 2>/dev/null' INT TERM; \
	trap '[ -z "$$stripe" ] || { kill -TERM $$stripe 2>/dev/null; wait $$stripe; }' EXIT; \
	if answers $(LOCALSTRIPE_PORT); then \
	  echo "make: reusing the localstripe that answers on 127.0.0.1:$(LOCALSTRIPE_PORT)"; \
	else \
	  $(BIN)/chirp localstripe --port $(LOCALSTRIPE_PORT) \
	    --webhook-url "http://$${HOST:-127.0.0.1}:$${PORT:-8000}/webhooks/stripe" & stripe=$$!; \
	  until answers $(LOCALSTRIPE_PORT); do \
	    tries=$$((tries + 1)); \
	    if ! kill -0 $$stripe 2>/dev/null || [ $$tries -gt 100 ]; then \
	      echo "make: localstripe did not start on 127.0.0.1:$(LOCALSTRIPE_PORT)" >&2; exit 1; \
	    fi; \
	    sleep 0.1; \
	  done; \
	fi; \
	$(BIN)/chirp serve & serve=$$!; \
	status=0; until wait $$serve; status=$$?; ! kill -0 $$serve 2>/dev/null; do :; done; \
	exit $$status

## make test: lint, type-check, layer contracts, the whole suite on every back end here
test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2
	$(MAKE) --no-print-directory alerts

## make test-fast: the fast tier alone: unit tests and domain tests (actions on a real database
## session rolled back per test, on SQLite and, when it answers, PostgreSQL); no app starts
test-fast: $(VENV)/.dev
	$(BIN)/pytest -q tests/unit tests/domain

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
