# Two commands on a fresh machine: `make conformance` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
OPENAI_SDK ?=  # the openai SDK under test: a version (2.8.0), default (the newest supported), empty: keep it
OPENAI_NODE ?=  # the openai npm package of the openai-node lane: a version (6.49.0); empty: keep it
LITELLM ?=  # the LiteLLM of its client lane: a version (1.110.2); empty: keep it
LANGCHAIN_OPENAI ?=  # the langchain-openai of its client lane: a version (1.7.4); empty: keep it
NODE_CLIENT := clients/node
NODE_STAMP := $(NODE_CLIENT)/node_modules/.installed
CLIENTS_STAMP := $(VENV)/.clients-installed
NPM := $(shell command -v npm 2>/dev/null)

BASELINE ?=  # the results.json a gate compares with, e.g. baseline/results.json (`make baseline` writes it)
BASELINE_DIR ?= baseline

.PHONY: conformance baseline gate openai-sdk clients node-client python-clients test test-fast lint secrets cassettes requirements bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Install the openai SDK under test (OPENAI_SDK=<version>, or OPENAI_SDK=default for the newest
## supported) into the venv; without it, change nothing. A version outside pyproject's range is refused
## before pip runs (tools/sdk_version.py): the venv keeps working.
openai-sdk: $(STAMP)
	$(if $(strip $(OPENAI_SDK)),requirement="$$($(BIN)/python -m tools.sdk_version '$(strip $(OPENAI_SDK))')" \
		&& $(BIN)/python -m pip install --quiet --upgrade "$$requirement",@:)

## The clients of the client lanes: openai-node (npm) and the Python ones (the `clients` extra).
clients: node-client python-clients

$(NODE_STAMP): $(NODE_CLIENT)/package-lock.json
	npm ci --prefix $(NODE_CLIENT) --no-audit --no-fund
	touch $(NODE_STAMP)

## The openai npm package the openai-node lane drives (clients/node/README.md): the pinned version, then
## OPENAI_NODE=<version> in its place (not saved; empty: keep what is installed). Without npm, one line:
## the lane reports itself unsupported and everything else runs.
node-client: $(if $(NPM),$(NODE_STAMP))
	$(if $(NPM),@:,@echo "openai-node: npm is not on PATH, so the openai-node lane will be unsupported (install Node.js 18 or newer: apt-get install nodejs npm)")
	$(if $(and $(NPM),$(strip $(OPENAI_NODE))),npm install --prefix $(NODE_CLIENT) --no-save --no-audit --no-fund 'openai@$(strip $(OPENAI_NODE))',@:)

$(CLIENTS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,clients]'
	touch $(CLIENTS_STAMP)

## The Python clients of the client lanes (the `clients` extra), with LITELLM=<version> and
## LANGCHAIN_OPENAI=<version> pinned in their place when given.
python-clients: $(CLIENTS_STAMP)
	$(if $(strip $(LITELLM)),$(BIN)/python -m pip install --quiet 'litellm==$(strip $(LITELLM))',@:)
	$(if $(strip $(LANGCHAIN_OPENAI)),$(BIN)/python -m pip install --quiet 'langchain-openai==$(strip $(LANGCHAIN_OPENAI))',@:)

## Run the conformance suite (offline by default, from the shipped cassettes) and write reports/.
conformance: openai-sdk clients
	$(BIN)/pytest suites $(ARGS)

## The reference a gate compares with: every test, with the SDK installed now, into $(BASELINE_DIR)/.
baseline: openai-sdk clients
	$(BIN)/pytest suites --report-dir $(BASELINE_DIR) $(ARGS)

## The SDK release gate: the documented forms only (the `gate` tier), offline; with BASELINE=…, compared
## with it (GATE PASSED / GATE FAILED last on the console and first on the page; exit 1 on a regression).
gate: openai-sdk clients
	$(BIN)/pytest suites -m gate $(if $(strip $(BASELINE)),--baseline $(strip $(BASELINE))) $(ARGS)

## Run the harness's own tests (lint and the secret scan of fixtures/ and reports/ first; the client
## drivers' tests need the clients).
test: $(STAMP) lint secrets clients
	$(BIN)/pytest tests -n 2 $(ARGS)

## The quick loop: the same, without the tests that start a process (marked `slow`); CI runs `test`.
test-fast: $(STAMP) lint secrets
	$(BIN)/pytest tests -n 2 -m "not slow" $(ARGS)

secrets: $(STAMP)
	$(BIN)/python -m vertex_conformance.secrets_scan fixtures reports tests/client_bodies $(if $(VERTEX_PROJECT),--project-id $(VERTEX_PROJECT))

lint: $(STAMP)
	$(BIN)/ruff check .

## Rebuild the shipped cassettes and snapshots from the documented samples (local server, no network).
cassettes: $(STAMP)
	$(BIN)/python -m tools.build_cassettes $(ARGS)

## Regenerate docs/requirements.yaml from the code (new ids added, vanished ids kept as retired).
requirements: $(STAMP)
	$(BIN)/python -m tools.requirements_manifest $(ARGS)

## Capture what LiteLLM and LangChain send for every recorded form into tests/client_bodies/ (installs the
## `clients` extra; traffic stays on 127.0.0.1). `make test` reads the captures without the clients.
.PHONY: client-bodies
client-bodies: python-clients
	$(BIN)/python -m tools.capture_client_bodies $(ARGS)

## Write the client matrix of docs/clients.md from reports/results.json (run `make conformance` first).
.PHONY: clients-doc
clients-doc: $(STAMP)
	$(BIN)/python -m tools.clients_doc $(ARGS)

## Every branch of every check knocked out in turn: the negative corpus must notice each (tools/knockout.py).
.PHONY: knockout
knockout: $(STAMP)
	$(BIN)/python -m tools.knockout

## Detection power and speed: mutation score, peers, throughput, suite time (docs/detection.md); then
## the peak memory of one request against hostile answers (benchmarks/memory.py); then the live suite's
## wall time at --concurrency 1, 4, 16, 32 against a stand-in adding latency (benchmarks/concurrency.py).
bench: $(STAMP) knockout
	$(BIN)/python benchmarks/run.py $(ARGS)
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/concurrency.py

clean:
	rm -rf $(VENV) reports/*.json reports/*.xml reports/*.html
