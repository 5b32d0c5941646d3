# Evidence Portal: `make run` serves the portal, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
EVIDENCE_SEED ?= $(wildcard ../shared/data/pubmed)
export EVIDENCE_SEED
EVIDENCE_GUIDELINE_SEED ?= $(wildcard ../shared/data/guidelines)
export EVIDENCE_GUIDELINE_SEED

.PHONY: run test test-deps lint format es-node bench audit prod-smoke venv venv-dev clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed
venv-dev: $(BIN)/.installed-dev

run: venv
	bash scripts/run.sh

test: test-deps venv-dev
	bash scripts/test.sh

# System packages the suite needs (Redis, Chromium, Maven, a JDK): installed when missing.
test-deps:
	bash scripts/install_test_deps.sh

lint: venv-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	SECRET_KEY=lint-only-key-that-is-long-enough-0123456789 $(BIN)/mypy records ingest search operations

format: venv-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

audit: venv-dev
	$(BIN)/python scripts/audit_deps.py

# The production shape end to end (PostgreSQL, Redis, Elasticsearch, queues, nginx + TLS); also
# run by `make test` (tests/test_prod_smoke.py).
prod-smoke: test-deps venv-dev
	bash scripts/prod_smoke.sh

es-node: venv-dev
	bash scripts/es_node.sh

bench: venv-dev
	$(BIN)/python bench/search_latency.py --sizes 10000,100000

clean:
	rm -rf var .pytest_cache .coverage htmlcov
