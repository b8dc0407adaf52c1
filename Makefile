# One entry point for people and CI. Every target creates .venv and installs what it needs.
# Debian's python3.11 where there is one: built with PGO and LTO like the official
# python:3.11 images of k8s/Dockerfile (the engine runs ~1.3x faster on it than on a
# build without them, such as pyenv's default: BENCHMARKS.md); else python3.11 from PATH.
PYTHON ?= $(or $(wildcard /usr/bin/python3.11),python3.11)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(subst /,_,$(PYTHON))

.PHONY: install test faults soak lint demo bench bench-peers clean

# the stamp names the interpreter: another one builds the venv anew
$(STAMP): pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## test: lint and types, then the whole suite against a real Redis and a real broker
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

## faults: the fault suite at full size (200k events, 24 SIGKILLs; make test runs it smaller)
faults: $(STAMP)
	SMARTCOMMS_FAULTS_EVENTS=200000 SMARTCOMMS_FAULTS_KILLS=24 \
		$(BIN)/python -m pytest tests/faults -v -s --timeout 1800

## soak: 30 min at a steady rate over 1M customers; worker RSS and Redis memory slopes
soak: $(STAMP)
	$(BIN)/python bench/soak.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## demo: local Redis + broker, synthetic POS and web traffic through the live flow
demo: $(STAMP)
	$(BIN)/smartcomms demo

## bench: throughput (passthrough baseline vs smartcomms) and receipt→notice latency
bench: $(STAMP)
	$(BIN)/python bench/throughput.py

## bench-peers: passthrough, live flow, Quix Streams peer, replay vs a naive floor (one run)
bench-peers: $(STAMP)
	$(BIN)/python bench/peers.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
