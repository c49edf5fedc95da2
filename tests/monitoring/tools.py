"""promtool and the Prometheus server for the monitoring tests: `make setup` installs both
(Debian package `prometheus`); a missing one fails the test with a message saying so, it
never skips it. The deployment tests' harness (tests/deploy/tools.py) finds them the same
way; it is used when present."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

try:
    from tests.deploy.tools import prometheus_binary, promtool_binary
except ImportError:  # the deployment harness is not in this checkout
    def _debian(tool: str) -> Path:
        found = shutil.which(tool) or (f"/usr/bin/{tool}" if os.access(f"/usr/bin/{tool}", os.X_OK) else None)
        if found is None:
            raise RuntimeError(f"{tool} is not installed: run `make setup`, which installs the Debian package "
                               "prometheus (or `apt-get install prometheus`)")
        return Path(found)

    def promtool_binary() -> Path:
        return _debian("promtool")

    def prometheus_binary() -> Path:
        return _debian("prometheus")


__all__ = ["prometheus_binary", "promtool_binary"]
