# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-matrix lint demo airflow bench bench-quick bench-detail sandbox clean stack e2e-stack e2e-browser bench-stack bench-fleet

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check oh_outlook_provider devtools dags tests benchmarks

# Two pytest processes side by side: the stack suite (tests/stack, 5-9 minutes, mostly waiting on Airflow's
# scheduler and workers) in the foreground, everything else beside it, its report printed after the stack's. One
# after the other they took 12.5 minutes on this machine's two cores (30 Nov 2026). `python -m pytest` alone runs both
# in one process, as before.
test: $(STAMP)
	$(BIN)/ruff check oh_outlook_provider devtools dags tests benchmarks
	@rest_log=$$(mktemp); \
	$(BIN)/python -m pytest -m 'not stack' >$$rest_log 2>&1 & rest=$$!; \
	trap 'kill $$rest 2>/dev/null; rm -f $$rest_log; exit 130' INT TERM; \
	echo "== tests/stack (the rest runs beside it; its report follows)"; \
	$(BIN)/python -m pytest -m stack -p no:cacheprovider; stack=$$?; \
	wait $$rest; rest_code=$$?; \
	echo "== everything but tests/stack"; cat $$rest_log; rm -f $$rest_log; \
	echo "make test: stack suite exit $$stack, the rest exit $$rest_code"; \
	[ $$stack -eq 0 ] && [ $$rest_code -eq 0 ]

# Every older Airflow 3 line (3.0, 3.1, 3.2), each in a fresh uv environment, one pytest process each: unit, sandbox
# (one Graph behaviour bundle), the `dags test` runs and connection Test cases, and on 3.0 the connection form in
# Chromium (the newest line runs everything in `make test`); prints a table of lines, times and results.
test-matrix: $(STAMP)
	$(BIN)/python -m devtools.matrix

demo: $(STAMP)
	$(BIN)/python -m devtools.demo

airflow: $(STAMP)
	$(BIN)/python -m devtools.demo --standalone

# The production path on this machine: PostgreSQL + Redis + Celery (2 workers), scheduler, triggerer, ...
stack: $(STAMP)
	$(BIN)/python -m devtools.stack

e2e-stack: $(STAMP)
	$(BIN)/python -m pytest -m stack

bench-stack: $(STAMP)
	$(BIN)/python -m benchmarks.stack

# The fleet DAG through the stack: 200 tenants x 5 mailboxes x 10 appointments, first sync, steady state and
# 10 % churn with 2 workers, steady state with 1; the arithmetic for 5,000 x 20 every 15 minutes beside the
# figures (about 12 minutes; `python -m benchmarks.fleet --quick`: 40 tenants, for iterating).
bench-fleet: $(STAMP)
	$(BIN)/python -m benchmarks.fleet

sandbox: $(STAMP)
	$(BIN)/python -m devtools.sandbox serve

# The latency regimes side by side (about 6 minutes); --quick for iterations (about a minute).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.regimes

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.regimes --quick

# The 30 ms detail: initial, rerun and 10 % changed for each client, the scaling cells, Airflow's costs.
bench-detail: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf .demo .bench .stack .matrix .devtools-path build *.egg-info
