# Sentra on one machine. Two commands:
#   make up     install what is missing, then start the platform (sentra up)
#   make test   install what is missing, then run every test (unit, integration, deploy)
VENV ?= $(HOME)/.cache/sentra/venv
export SENTRA_VENV := $(VENV)
PY := $(VENV)/bin/python

.PHONY: setup up down test lint protos bench

setup:
	@bash scripts/setup.sh

up: setup
	$(VENV)/bin/sentra up

down:
	$(VENV)/bin/sentra down

lint: setup
	$(VENV)/bin/ruff check .

protos: setup
	$(PY) scripts/gen_protos.py

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) bench/ingest.py
	$(PY) bench/embedding.py
	$(PY) bench/retrieval.py
	$(PY) bench/gateway.py
	$(PY) bench/parser_sandbox.py
	$(PY) bench/generate.py
	$(PY) bench/answer_quality.py
	$(PY) bench/answers_heldout.py
	$(PY) bench/fairness.py
	$(PY) bench/llamacpp.py
	$(PY) bench/training.py --steps 30 --checkpoints 3 --two-workers --service
	$(PY) bench/facts.py
	$(PY) bench/datasets.py
