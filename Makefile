# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-fast lint typecheck schema bench coverage clean alerts

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
## (the breaking-change check against schema/released/ is one of its unit tests)
test: $(VENV)/.dev lint typecheck
	$(BIN)/pytest -n 2 --dist worksteal
	$(MAKE) --no-print-directory alerts

## make lint: ruff's lint and format checks, and the import-layer contracts (import-linter)
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## make typecheck: mypy, strict, over the seven packages (settings in pyproject.toml)
typecheck: $(VENV)/.dev
	$(BIN)/mypy

## make coverage: the whole suite (two workers) under coverage.py, then line and branch
## coverage as two figures; `make coverage PYTEST_ARGS=tests/unit` measures a part only
coverage: $(VENV)/.dev
	$(BIN)/pytest -n 2 --dist worksteal --cov --cov-branch --cov-report=term --cov-report=json $(PYTEST_ARGS)
	@$(BIN)/python -c 'import json; t = json.load(open("coverage.json"))["totals"]; \
	print("line coverage:   %.2f%% (%d of %d statements)" % (t["percent_statements_covered"], t["covered_lines"], t["num_statements"])); \
	print("branch coverage: %.2f%% (%d of %d branches)" % (t["percent_branches_covered"], t["covered_branches"], t["num_branches"]))'

BENCH_DATABASE := chirp_bench_small
BENCH_URL := postgresql://postgres@127.0.0.1:5432/$(BENCH_DATABASE)

## make bench: a short benchmark (about 20 s): generates a small data set (200 accounts,
## 5,000 posts) into the PostgreSQL database chirp_bench_small (dropped and recreated), then
## runs bench/sql.py on it: the home-timeline and public-feed plans and timings, and the SQL
## statements per GraphQL page. Needs PostgreSQL on 127.0.0.1:5432 whose `postgres` user may
## create databases. The 1M-post runs and the load and memory benchmarks: docs/benchmarks.md.
bench: $(VENV)/.runtime
	@$(BIN)/python -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 1).close()' 2>/dev/null \
	  || { echo "make: bench needs PostgreSQL on 127.0.0.1:5432 (user postgres, allowed to create databases)" >&2; exit 1; }
	$(BIN)/python bench/generate.py --database-url $(BENCH_URL) --accounts 200 --posts 5000 --recreate
	$(BIN)/python bench/sql.py --database-url $(BENCH_URL)

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
