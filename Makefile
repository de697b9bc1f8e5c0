# Two commands on a fresh machine: `make conformance` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: conformance gate test lint cassettes clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the conformance suite (offline by default, from the shipped cassettes) and write reports/.
conformance: $(STAMP)
	$(BIN)/pytest suites $(ARGS)

## The SDK release gate: the documented forms only (the `gate` tier), offline.
gate: $(STAMP)
	$(BIN)/pytest suites -m gate $(ARGS)

## Run the harness's own tests (lint first).
test: $(STAMP) lint
	$(BIN)/pytest tests $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

## Rebuild the shipped cassettes and snapshots from the documented samples (local server, no network).
cassettes: $(STAMP)
	$(BIN)/python -m vertex_conformance.build_cassettes $(ARGS)

clean:
	rm -rf $(VENV) reports/*.json reports/*.xml reports/*.html
