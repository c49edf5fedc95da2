"""`sentra`: run the platform on one machine and use it from the terminal.

The commands live in `sentra_cli.commands` by group; importing them registers them on
the app, in the order `sentra --help` lists them."""

from __future__ import annotations

import importlib
import os

from sentra_cli.cli import app

# In the order `sentra --help` lists them.
for _group in ("platform", "documents", "ask", "datasets", "train", "schedules", "identity", "audit", "apikeys",
               "admin"):
    importlib.import_module(f"sentra_cli.commands.{_group}")

__all__ = ["app", "run"]


def run() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":  # python -m sentra_cli.main
    run()
