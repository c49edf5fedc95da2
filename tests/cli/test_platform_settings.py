"""Single-machine mode without starting Sentra: settings from sentra.toml, the environment
and the platform (which one won), stable ports and a taken one, and the supervisor's
restart, back-off and crash-loop bookkeeping on real (sleeping) processes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest
from sentra_cli.platform import Platform, PlatformError, PlatformState, ProcessInfo
from sentra_cli.settings import ConfigError, SupervisorPolicy, layer, load_config
from sentra_cli.supervisor import Supervisor, describe_exit

CONFIG = """
[ports]
gateway_http = 18080

[supervisor]
backoff_initial_seconds = 0.5
crash_loop_restarts = 3

[inference]
answer_strategy = "reader"

[ingestion.limits]
max_upload_bytes = 1000
parse_timeout_seconds = 30

[ingestion.connectors]
enabled = true
"""


def state_of(tmp_path) -> PlatformState:
    services = {name: ProcessInfo(pid=1, port=40000 + i) for i, name in
                enumerate(("embedding", "ingestion", "retrieval", "inference", "training", "gateway"))}
    return PlatformState(data_dir=str(tmp_path), nats=ProcessInfo(pid=1, port=4222), services=services)


def test_the_file_becomes_service_variables(tmp_path):
    path = tmp_path / "sentra.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    assert config.ports == {"gateway_http": 18080}
    assert config.supervisor.backoff_initial_seconds == 0.5
    assert config.supervisor.crash_loop_restarts == 3
    assert config.services["ingestion"] == {
        "LIMITS__MAX_UPLOAD_BYTES": "1000", "LIMITS__PARSE_TIMEOUT_SECONDS": "30", "CONNECTORS__ENABLED": "true",
    }
    assert config.services["inference"] == {"ANSWER_STRATEGY": "reader"}


@pytest.mark.parametrize(("text", "message"), [
    ("[ingestoin]\nx = 1\n", r"\[ingestoin\] is not known"),
    ("[ports]\ngateway_http = 70000\n", "is not a port"),
    ("[ports]\nweb = 80\n", r"\[ports\] web is not known"),
    ("[supervisor]\nbackoff_max_seconds = -1\n", "must be a positive number"),
    ("[inference\n", "not valid TOML"),
])
def test_a_bad_file_is_an_error_naming_the_key(tmp_path, text, message):
    path = tmp_path / "sentra.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    assert load_config(tmp_path / "missing.toml").services == {}
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", required=True)


def test_layers_say_which_value_won_and_hide_secrets():
    env, report = layer("SENTRA_X_", {
        "platform default": {"SENTRA_X_A": "1"},
        "file": {"SENTRA_X_A": "2", "SENTRA_X_B": "file"},
        "environment": {"SENTRA_X_A": "3", "SENTRA_Y_A": "other service", "PATH": "/bin"},
        "platform": {"SENTRA_X_B": "platform", "SENTRA_X_API_KEY": "hunter2"},
    })
    assert env == {"SENTRA_X_A": "3", "SENTRA_X_B": "platform", "SENTRA_X_API_KEY": "hunter2"}
    assert report["SENTRA_X_A"] == {"value": "3", "source": "environment",
                                    "overrode": ["platform default=1", "file=2"]}
    assert report["SENTRA_X_B"]["overrode"] == ["file=file"]
    assert report["SENTRA_X_API_KEY"]["value"] == "***"


def test_environment_beats_file_and_the_platform_keeps_its_ports(tmp_path, monkeypatch):
    (tmp_path / "sentra.toml").write_text(CONFIG)
    monkeypatch.setenv("SENTRA_INGESTION_LIMITS__PARSE_TIMEOUT_SECONDS", "45")
    monkeypatch.setenv("SENTRA_INGESTION_GRPC__PORT", "1")  # the platform's to decide
    monkeypatch.setenv("SENTRA_INGESTION_WATCHDOG_INTERVAL_SECONDS", "7")
    platform = Platform(tmp_path, identity="development",
                        extra_env={"SENTRA_INGESTION_WATCHDOG_INTERVAL_SECONDS": "5"})
    env, report = platform.service_settings("ingestion", state_of(tmp_path), 40001, 40100)
    assert env["SENTRA_INGESTION_LIMITS__MAX_UPLOAD_BYTES"] == "1000"
    assert report["SENTRA_INGESTION_LIMITS__MAX_UPLOAD_BYTES"]["source"] == "file"
    assert env["SENTRA_INGESTION_LIMITS__PARSE_TIMEOUT_SECONDS"] == "45"
    assert report["SENTRA_INGESTION_LIMITS__PARSE_TIMEOUT_SECONDS"] == {
        "value": "45", "source": "environment", "overrode": ["file=30"]}
    assert env["SENTRA_INGESTION_GRPC__PORT"] == "40001"
    assert report["SENTRA_INGESTION_GRPC__PORT"] == {
        "value": "40001", "source": "platform", "overrode": ["environment=1"]}
    assert env["SENTRA_INGESTION_WATCHDOG_INTERVAL_SECONDS"] == "5"
    assert report["SENTRA_INGESTION_WATCHDOG_INTERVAL_SECONDS"]["source"] == "caller"
    # Another service's table does not leak in; a platform default gives way to the environment.
    assert "SENTRA_INGESTION_ANSWER_STRATEGY" not in env
    monkeypatch.setenv("SENTRA_INFERENCE_LOCAL__MODEL_DIR", "/models/mine")
    env, report = platform.service_settings("inference", state_of(tmp_path), 40003, 40101)
    assert env["SENTRA_INFERENCE_ANSWER_STRATEGY"] == "reader"
    assert report["SENTRA_INFERENCE_LOCAL__MODEL_DIR"]["source"] == "environment"
    assert env["SENTRA_INFERENCE_LOCAL__MODEL_DIR"] == "/models/mine"


def test_the_otlp_endpoint_reaches_every_service_and_survives_the_supervisor_hand_over(tmp_path, monkeypatch):
    monkeypatch.delenv("SENTRA_RETRIEVAL_TELEMETRY__OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv("SENTRA_GATEWAY_TELEMETRY__OTLP_ENDPOINT", "http://127.0.0.1:5317")
    platform = Platform(tmp_path, identity="development", otlp_endpoint="http://127.0.0.1:4317")
    env, report = platform.service_settings("retrieval", state_of(tmp_path), 40002, 40102)
    assert env["SENTRA_RETRIEVAL_TELEMETRY__OTLP_ENDPOINT"] == "http://127.0.0.1:4317"
    assert report["SENTRA_RETRIEVAL_TELEMETRY__OTLP_ENDPOINT"]["source"] == "platform default"
    # A service's own setting wins over the platform-wide one.
    env, _ = platform.service_settings("gateway", state_of(tmp_path), 40005, 40105)
    assert env["SENTRA_GATEWAY_TELEMETRY__OTLP_ENDPOINT"] == "http://127.0.0.1:5317"
    platform.write_supervisor_file()
    assert Platform.from_supervisor_file(tmp_path).otlp_endpoint == "http://127.0.0.1:4317"


def test_a_taken_port_is_an_error_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        platform = Platform(tmp_path, identity="development", ports={"gateway_http": port, "keycloak": port})
        with pytest.raises(PlatformError, match=rf"port {port} \(gateway HTTP\) is already in use.*gateway_http"):
            platform._check_ports(PlatformState(data_dir=str(tmp_path)))
        # The development platform runs no Keycloak: its port is not checked.
        Platform(tmp_path, identity="development", ports={"keycloak": port})._check_ports(
            PlatformState(data_dir=str(tmp_path)))


def test_backoff_doubles_up_to_its_ceiling():
    policy = SupervisorPolicy(backoff_initial_seconds=1, backoff_max_seconds=10)
    assert [policy.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_exit_reasons():
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(3) == "exited with code 3"
    assert "unknown" in describe_exit(None)


class SleepingPlatform(Platform):
    """A Platform whose only process is `sleep` standing in for the embedding service."""

    def restart_process(self, name, state):
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        self._children[proc.pid] = proc
        state.services[name] = ProcessInfo(pid=proc.pid, port=1).carry_history(state.services.get(name))

    def save_state(self, state):
        self.saved = state


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_supervisor_restarts_with_backoff_and_reports_a_crash_loop(tmp_path):
    platform = SleepingPlatform(tmp_path, identity="development")
    clock = Clock()
    policy = SupervisorPolicy(backoff_initial_seconds=2, backoff_max_seconds=8, stable_seconds=30,
                              crash_loop_restarts=3, crash_loop_window_seconds=100)
    supervisor = Supervisor(platform, policy, clock=clock)
    supervisor.state = PlatformState(data_dir=str(tmp_path), nats=None, services={})
    supervisor.names = lambda: ["embedding"]
    platform.restart_process("embedding", supervisor.state)
    supervisor.started["embedding"] = clock.now
    try:
        delays = []
        for _ in range(3):
            info = supervisor.state.services["embedding"]
            old = info.pid
            platform._children[old].send_signal(signal.SIGKILL)
            platform._children[old].wait()
            clock.now += 1
            supervisor.check()
            assert info.last_exit == "killed by SIGKILL"
            delays.append(supervisor.restart_at["embedding"] - clock.now)
            supervisor.check()  # not yet due
            assert supervisor.state.services["embedding"].pid == old
            clock.now += delays[-1]
            supervisor.check()
            assert supervisor.state.services["embedding"].pid != old
        info = supervisor.state.services["embedding"]
        assert delays == [2, 4, 8]
        assert info.restarts == 3 and info.crash_loop and not info.status
        # Up long enough: no longer a crash loop, and the next back-off starts over.
        clock.now += 31
        supervisor.check()
        assert not info.crash_loop
        platform._children[info.pid].kill()
        platform._children[info.pid].wait()
        supervisor.check()
        assert supervisor.restart_at["embedding"] - clock.now == 2
    finally:
        for child in platform._children.values():
            child.kill()
            child.wait()


def test_a_service_that_lost_its_port_to_another_program_is_recognised(tmp_path):
    """`start_all` starts a service again on other ports when the ones it picked were taken
    before the service bound them (seen on a busy CI machine); anything else stays an error."""
    from sentra_cli.platform import _lost_port_race

    log = tmp_path / "training.log"
    info = ProcessInfo(pid=1, port=32775, log=str(log))
    log.write_text("RuntimeError: Failed to bind to address 127.0.0.1:32775; set GRPC_VERBOSITY=debug\n")
    assert _lost_port_race(info)
    log.write_text("ValueError: SENTRA_TRAINING_WORKERS: Input should be greater than or equal to 1\n")
    assert not _lost_port_race(info)
    assert not _lost_port_race(ProcessInfo(pid=1, port=1, log=str(tmp_path / "missing.log")))
