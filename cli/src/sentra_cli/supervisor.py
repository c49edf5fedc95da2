"""The supervisor of a platform on one machine: `python -m sentra_cli.supervisor --home DIR`.

`Platform.up()` starts it detached. It starts nats-server, Keycloak and the services
(`Platform.start_all`), then watches them: a process that exits is started again on its
old ports after an exponential back-off (`[supervisor]` in sentra.toml); the back-off
starts over once a process has stayed up `stable_seconds`; `crash_loop_restarts` exits
within `crash_loop_window_seconds` mark it as a crash loop (it keeps being retried at the
longest back-off, and `sentra status` and the log say so). Every restart, the last exit
(code or signal) and its time are written to the state file. SIGTERM (`sentra down`)
stops the processes in reverse start order.

Processes left alive by an earlier supervisor are adopted: they are watched by PID, and
the reason they exit cannot be known (they are not this supervisor's children).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from sentra_common.logging import configure_logging

from sentra_cli.platform import SERVICES, Platform, PlatformError, PlatformState, ProcessInfo, pid_alive
from sentra_cli.settings import SupervisorPolicy

logger = logging.getLogger("sentra.supervisor")


class Stopping(BaseException):
    """SIGTERM or SIGINT: stop everything."""


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "exited (reason unknown: adopted from an earlier supervisor)"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Supervisor:
    def __init__(self, platform: Platform, policy: SupervisorPolicy, clock=time.monotonic) -> None:
        self.platform = platform
        self.policy = policy
        self.clock = clock
        self.state: PlatformState | None = None
        self.started: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.exits: dict[str, deque[float]] = {}
        self.restart_at: dict[str, float] = {}

    def names(self) -> list[str]:
        state = self.state
        return ["nats", *(["keycloak"] if state.keycloak is not None else []), *SERVICES]

    def info(self, name: str) -> ProcessInfo | None:
        state = self.state
        return {"nats": state.nats, "keycloak": state.keycloak}.get(name) or state.services.get(name)

    def exit_reason(self, info: ProcessInfo) -> str | None:
        """None while `info`'s process runs, else why it ended."""
        child = self.platform._children.get(info.pid)
        if child is not None:
            code = child.poll()
            return None if code is None else describe_exit(code)
        return None if pid_alive(info.pid) else describe_exit(None)

    def start(self) -> None:
        now = self.clock()
        self.state = self.platform.start_all()
        for name in self.names():
            self.started[name] = now

    def record_exit(self, name: str, info: ProcessInfo, reason: str) -> None:
        """Schedule the restart of `name` and write why it ended."""
        now = self.clock()
        policy = self.policy
        ran = now - self.started.get(name, now)
        self.failures[name] = self.failures.get(name, 0) + 1 if ran < policy.stable_seconds else 1
        exits = self.exits.setdefault(name, deque())
        exits.append(now)
        while exits and now - exits[0] > policy.crash_loop_window_seconds:
            exits.popleft()
        delay = policy.delay(self.failures[name])
        info.crash_loop = len(exits) >= policy.crash_loop_restarts
        info.last_exit = reason
        info.last_exit_at = datetime.now(UTC).isoformat(timespec="seconds")
        if info.crash_loop:
            info.status = (f"crash loop: {len(exits)} exits in {policy.crash_loop_window_seconds:.0f} s; "
                           f"restarting in {delay:.0f} s")
            logger.error("%s %s after %.1f s; CRASH LOOP (%d exits within %.0f s), restarting in %.1f s; see %s",
                         name, reason, ran, len(exits), policy.crash_loop_window_seconds, delay, info.log)
        else:
            info.status = f"restarting in {delay:.1f} s"
            logger.warning("%s %s after %.1f s; restarting in %.1f s (restart %d)", name, reason, ran, delay,
                           info.restarts + 1)
        self.restart_at[name] = now + delay
        self.platform.save_state(self.state)

    def restart(self, name: str) -> None:
        del self.restart_at[name]
        info = self.info(name)
        info.restarts += 1
        info.status = ""
        self.started[name] = self.clock()
        try:
            self.platform.restart_process(name, self.state)
        except PlatformError as exc:
            new = self.info(name)
            reason = self.exit_reason(new)
            if reason is None:  # alive but never ready: stop it, count it as a failure
                self.platform.stop_service(name, kill=True)
                reason = f"not ready ({exc})"
            self.record_exit(name, new, reason)
            return
        new = self.info(name)
        logger.info("%s is back (pid %d, restart %d)", name, new.pid, new.restarts)

    def check(self) -> None:
        """One pass: restart what is due, notice what exited."""
        for name in self.names():
            info = self.info(name)
            if info is None:
                continue
            if name in self.restart_at:
                if self.clock() >= self.restart_at[name]:
                    self.restart(name)
                continue
            reason = self.exit_reason(info)
            if reason is not None:
                self.record_exit(name, info, reason)
            elif info.crash_loop and self.clock() - self.started.get(name, 0) >= self.policy.stable_seconds:
                info.crash_loop = False
                logger.info("%s has run %.0f s: no longer in a crash loop", name, self.policy.stable_seconds)
                self.platform.save_state(self.state)

    def run(self, interval: float = 0.5) -> None:
        while True:
            self.check()
            time.sleep(interval)


def _stop(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Stopping()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentra_cli.supervisor")
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    configure_logging("supervisor")  # JSON lines, like every service's log
    platform = Platform.from_supervisor_file(args.home.resolve())
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    state = platform.load_state()
    state.supervisor = ProcessInfo(pid=os.getpid(), port=0, log=str(platform.log_dir / "supervisor.log"))
    state.phase, state.error = "starting", ""
    platform.save_state(state)
    supervisor = Supervisor(platform, platform.config.supervisor)
    try:
        try:
            supervisor.start()
        except Exception as exc:  # PlatformError, KeycloakError: both say what to do
            logger.error("start-up failed: %s", exc)
            state = platform.load_state()
            state.phase, state.error = "failed", str(exc)
            platform.save_state(state)
            platform.stop_all()
            return 1
        supervisor.state.phase = "running"
        platform.save_state(supervisor.state)
        logger.info("every process is running; supervising (policy %s)", platform.config.supervisor)
        supervisor.run()
    except Stopping:
        logger.info("stopping every process in reverse start order")
        platform.stop_all()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
