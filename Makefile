# Two commands on a fresh machine: `make conformance` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
OPENAI_SDK ?=  # the openai SDK version under test, e.g. 2.8.0; empty: keep the one installed

.PHONY: conformance gate openai-sdk test test-fast lint secrets cassettes requirements bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Install the openai SDK under test (OPENAI_SDK=<version>) into the venv; without it, change nothing.
openai-sdk: $(STAMP)
	$(if $(strip $(OPENAI_SDK)),$(BIN)/python -m pip install --quiet 'openai==$(strip $(OPENAI_SDK))',@:)

## Run the conformance suite (offline by default, from the shipped cassettes) and write reports/.
conformance: openai-sdk
	$(BIN)/pytest suites $(ARGS)

## The SDK release gate: the documented forms only (the `gate` tier), offline.
gate: openai-sdk
	$(BIN)/pytest suites -m gate $(ARGS)

## Run the harness's own tests (lint and the secret scan of fixtures/ and reports/ first).
test: $(STAMP) lint secrets
	$(BIN)/pytest tests -n 2 $(ARGS)

## The quick loop: the same, without the tests that start a process (marked `slow`); CI runs `test`.
test-fast: $(STAMP) lint secrets
	$(BIN)/pytest tests -n 2 -m "not slow" $(ARGS)

secrets: $(STAMP)
	$(BIN)/python -m vertex_conformance.secrets_scan fixtures reports $(if $(VERTEX_PROJECT),--project-id $(VERTEX_PROJECT))

lint: $(STAMP)
	$(BIN)/ruff check .

## Rebuild the shipped cassettes and snapshots from the documented samples (local server, no network).
cassettes: $(STAMP)
	$(BIN)/python -m tools.build_cassettes $(ARGS)

## Regenerate docs/requirements.yaml from the code (new ids added, vanished ids kept as retired).
requirements: $(STAMP)
	$(BIN)/python -m tools.requirements_manifest $(ARGS)

## Detection power and speed: mutation score, peers, throughput, suite time (docs/detection.md).
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) reports/*.json reports/*.xml reports/*.html
