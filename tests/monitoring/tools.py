"""promtool and the Prometheus server for the monitoring tests, found the way the
deployment tests find them (`make setup` installs both from the Debian package
`prometheus`; a missing one fails the test with a message saying so, it never skips it)."""

from __future__ import annotations

from tests.deploy.tools import prometheus_binary, promtool_binary

__all__ = ["prometheus_binary", "promtool_binary"]
