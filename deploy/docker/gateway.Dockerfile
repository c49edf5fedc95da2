# syntax=docker/dockerfile:1.7
# Sentra's gateway: the public gRPC and HTTP API (token verification, permissions, audit log).
# No machine-learning framework: the `gateway` extra only (FastAPI, python-keycloak, ...).
# Build from the repository root: make images (or docker buildx build -f deploy/docker/gateway.Dockerfile .)
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

# The web console (console/: TypeScript, Vite), built into the gateway package's
# console_static/ that the gateway serves at /console/ (the wheel ships it).
FROM ${NODE_IMAGE} AS console
ARG NPM_CONFIG_REGISTRY
WORKDIR /src/console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console/ ./
RUN npm run build

FROM ${PYTHON_IMAGE} AS builder
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY libs/ libs/
COPY cli/ cli/
COPY services/ services/
COPY --from=console /src/services/gateway/src/sentra_gateway/console_static/ services/gateway/src/sentra_gateway/console_static/
# Wheels of Sentra and everything its gateway extra needs; the runtime installs only these.
RUN pip wheel --wheel-dir /wheels ".[gateway]"

FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 sentra \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin sentra
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/sentra/venv \
 && /opt/sentra/venv/bin/pip install --no-index --find-links=/wheels "sentra[gateway]" \
 && /opt/sentra/venv/bin/pip uninstall --yes pip
# The root file system is read-only in the pod: HOME and TMPDIR are the /tmp volume.
ENV PATH=/opt/sentra/venv/bin:$PATH HOME=/tmp TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
# gRPC, HTTP, metrics. Health is probed by Kubernetes (grpc.health.v1), not by the image.
EXPOSE 50051 8080 9090
ENTRYPOINT ["python"]
CMD ["-m", "sentra_gateway"]

# The Tilt dev loop (`target dev`): the sources also under /opt/sentra/src, copied at start
# into /tmp/src (the pod's writable volume) and first on the path, so Tilt can sync
# changed files there and restart the process without rebuilding the image.
FROM runtime AS dev
COPY --chown=10001:10001 libs/proto/sentra/ /opt/sentra/src/sentra/
COPY --chown=10001:10001 libs/common/src/sentra_common/ /opt/sentra/src/sentra_common/
COPY --chown=10001:10001 services/gateway/src/sentra_gateway/ /opt/sentra/src/sentra_gateway/
ENV PYTHONPATH=/tmp/src
ENTRYPOINT ["/bin/sh", "-c", "mkdir -p /tmp/src && cp -Rn /opt/sentra/src/. /tmp/src/ && exec python \"$@\"", "sentra-dev"]
CMD ["-m", "sentra_gateway"]

# The image `make images` builds (the default target).
FROM runtime AS release
