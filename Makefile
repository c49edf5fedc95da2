# Sentra on one machine. Two commands:
#   make up     install what is missing, then start the platform (sentra up)
#   make test   install what is missing, then run every test (unit, integration, deploy)
VENV ?= $(HOME)/.cache/sentra/venv
export SENTRA_VENV := $(VENV)
PY := $(VENV)/bin/python

.PHONY: setup up down test lint protos bench images

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
	$(PY) scripts/run_tests.py -q

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

# Container images of the services (deploy/docker/*.Dockerfile), for a machine with a
# builder: docker buildx, or podman. IMAGE_REPOSITORY=registry.example.com/sentra and
# IMAGE_TAG=0.1.0 name them; PYTHON_IMAGE pins the base image, e.g. by digest:
#   make images PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:<digest>
IMAGE_REPOSITORY ?= sentra
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
PYTHON_IMAGE ?= python:3.11.11-slim-bookworm
# More build arguments, e.g. --build-arg PIP_INDEX_URL=<your package mirror>.
IMAGE_BUILD_ARGS ?=
IMAGE_SERVICES := gateway ingestion embedding retrieval inference training
images:
	@if docker buildx version >/dev/null 2>&1; then build="docker buildx build --load"; \
	elif command -v podman >/dev/null 2>&1; then build="podman build"; \
	else echo "make images needs a container builder: install docker with buildx, or podman" >&2; exit 1; fi; \
	set -e; for service in $(IMAGE_SERVICES); do \
	  echo "building $(IMAGE_REPOSITORY)/$$service:$(IMAGE_TAG)"; \
	  $$build --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) $(IMAGE_BUILD_ARGS) -f deploy/docker/$$service.Dockerfile \
	    -t $(IMAGE_REPOSITORY)/$$service:$(IMAGE_TAG) . ; \
	done; \
	echo "building $(IMAGE_REPOSITORY)/training-gpu:$(IMAGE_TAG)"; \
	$$build --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) $(IMAGE_BUILD_ARGS) --build-arg EXTRAS=training-gpu \
	  -f deploy/docker/training.Dockerfile -t $(IMAGE_REPOSITORY)/training-gpu:$(IMAGE_TAG) .
