"""Write the files of the Helm chart that are derived from Sentra's own code, so the chart
and the services cannot drift apart:

- `deploy/helm/sentra/files/bus/permissions.json`: each service's NATS user permissions
  (`sentra_common.bus_access.permissions`), which the chart puts into nats-server's
  `authorization` block next to the generated passwords.

    python scripts/render_chart_files.py          # rewrite the files
    python scripts/render_chart_files.py --check  # exit 1 when a committed file is stale

`tests/deploy/test_chart_files.py` runs the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "sentra"


def bus_permissions() -> str:
    from sentra_common.bus_access import SERVICE_ACCESS, permissions

    return json.dumps({service: permissions(service) for service in sorted(SERVICE_ACCESS)}, indent=2) + "\n"


def expected_files() -> dict[Path, str]:
    return {CHART / "files" / "bus" / "permissions.json": bus_permissions()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    args = parser.parse_args(argv)
    stale = []
    for path, text in expected_files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if args.check and stale:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/render_chart_files.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
