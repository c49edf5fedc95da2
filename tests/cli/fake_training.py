"""A stand-in TrainingService on an in-process gRPC server that the CLI talks to as if it
were the gateway (the CLI tests of `sentra datasets` and `sentra schedules`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent import futures

import grpc
from sentra.training.v1 import training_pb2_grpc
from sentra_cli import client as cli_client
from sentra_cli.client import DEV_IDENTITY_HEADER
from sentra_cli.main import app
from typer.testing import CliRunner


@contextlib.contextmanager
def serving(servicer, monkeypatch, tmp_path) -> Iterator[None]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    training_pb2_grpc.add_TrainingServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    monkeypatch.setenv("SENTRA_GATEWAY", f"127.0.0.1:{port}")
    monkeypatch.setenv("SENTRA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cli_client, "call_metadata", lambda platform: lambda: [(DEV_IDENTITY_HEADER, "ana:legal")])
    try:
        yield
    finally:
        server.stop(0)


def sentra(*args: str):
    return CliRunner().invoke(app, list(args))
