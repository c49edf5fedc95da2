"""The boundaries of Sentra's code, kept by a test.

- No service imports another service: they talk over gRPC and NATS only.
- `sentra_common` imports no service and not the CLI; the CLI imports no service.
- A service's `domain` package imports nothing of its service outside `domain`: the
  ports (interfaces) live in the domain, `app.py` (the composition root) builds the
  adapters that implement them. Nor does it import the event messages
  (`sentra.events`): each service's `events.py` turns them into domain calls.
- The generated code (`libs/proto/sentra`) imports nothing of ours but other generated
  modules.

Every import counts, also the ones inside functions. The checker itself is tested on a
planted forbidden import, so the contract test can fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("sentra_embedding", "sentra_gateway", "sentra_inference", "sentra_ingestion", "sentra_retrieval",
            "sentra_training")


def packages(root: Path = ROOT) -> dict[str, Path]:
    """Our top-level packages and where they live."""
    found = {"sentra_common": root / "libs/common/src/sentra_common", "sentra_cli": root / "cli/src/sentra_cli",
             "sentra": root / "libs/proto/sentra"}
    for directory in sorted((root / "services").glob("*/src/sentra_*")):
        found[directory.name] = directory
    return found


def imports(package: str, directory: Path) -> Iterator[tuple[str, str]]:
    """(importing module, imported module) for every absolute and relative import."""
    for path in sorted(directory.rglob("*.py")):
        parts = path.relative_to(directory.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        is_package = parts[-1] == "__init__"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield module, alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")
                    base = base[: len(base) - node.level + (1 if is_package else 0)]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                yield module, target
                for alias in node.names:  # `from sentra_x import adapters` imports a module too
                    yield module, f"{target}.{alias.name}"


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for package, directory in packages(root).items():
        for module, target in imports(package, directory):
            top = target.split(".")[0]
            if package in SERVICES and top in SERVICES and top != package:
                found.append(f"{module} imports {target}: services talk over gRPC and NATS, not imports")
            elif package in ("sentra_common", "sentra_cli") and top in SERVICES:
                found.append(f"{module} imports {target}: {package} must not depend on a service")
            elif package == "sentra_common" and top == "sentra_cli":
                found.append(f"{module} imports {target}: the common library must not depend on the CLI")
            elif package == "sentra" and top.startswith("sentra") and top != "sentra":
                found.append(f"{module} imports {target}: generated code imports only generated code")
            elif (package in SERVICES and module.startswith(f"{package}.domain") and top == package
                  and target.split(".")[1:2] != ["domain"]):
                found.append(f"{module} imports {target}: the domain owns its ports; adapters import the domain")
            elif package in SERVICES and module.startswith(f"{package}.domain") and target.startswith("sentra.events"):
                found.append(f"{module} imports {target}: event messages stop at the service's events.py")
    return sorted(set(found))


def test_the_code_keeps_its_boundaries():
    assert violations() == []


def test_the_checker_finds_a_planted_forbidden_import(tmp_path):
    service = tmp_path / "services/retrieval/src/sentra_retrieval"
    (service / "domain").mkdir(parents=True)
    (service / "adapters").mkdir()
    (service / "__init__.py").write_text("")
    (service / "domain/__init__.py").write_text("")
    (service / "domain/search.py").write_text("def run():\n    from ..adapters import store\n")
    (service / "domain/ok.py").write_text("from sentra_retrieval.domain.search import run\n")
    (service / "domain/stage.py").write_text("from sentra.events.v1 import events_pb2\n")
    other = tmp_path / "services/gateway/src/sentra_gateway"
    other.mkdir(parents=True)
    (other / "core.py").write_text("import sentra_retrieval.domain\n")
    common = tmp_path / "libs/common/src/sentra_common"
    common.mkdir(parents=True)
    (common / "util.py").write_text("from sentra_gateway import core\n")
    generated = tmp_path / "libs/proto/sentra"
    generated.mkdir(parents=True)
    (generated / "x_pb2.py").write_text("from sentra.common.v1 import common_pb2\nimport sentra_common\n")
    (tmp_path / "cli/src/sentra_cli").mkdir(parents=True)

    found = violations(tmp_path)

    assert any(v.startswith("sentra_retrieval.domain.search imports sentra_retrieval.adapters") for v in found)
    assert any(v.startswith("sentra_gateway.core imports sentra_retrieval.domain") for v in found)
    assert any(v.startswith("sentra_common.util imports sentra_gateway") for v in found)
    assert any(v.startswith("sentra.x_pb2 imports sentra_common") for v in found)
    assert any(v.startswith("sentra_retrieval.domain.stage imports sentra.events.v1") for v in found)
    assert not any(v.startswith("sentra_retrieval.domain.ok") for v in found)
    assert not any("common_pb2" in v for v in found)
