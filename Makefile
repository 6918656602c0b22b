# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-matrix lint demo airflow bench bench-quick bench-detail sandbox clean stack e2e-stack e2e-browser bench-stack

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check oh_outlook_provider devtools dags tests benchmarks

test: $(STAMP)
	$(BIN)/ruff check oh_outlook_provider devtools dags tests benchmarks
	$(BIN)/python -m pytest

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

sandbox: $(STAMP)
	$(BIN)/python -m devtools.sandbox serve

# The latency regimes side by side (about 8 minutes); --quick for iterations (about a minute).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.regimes

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.regimes --quick

# The 30 ms detail: initial, rerun and 10 % changed for each client, the scaling cells, Airflow's costs.
bench-detail: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf .demo .bench .stack .matrix .devtools-path build *.egg-info
