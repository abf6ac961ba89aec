"""The real Celery worker (with its embedded beat) as a subprocess, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Self

from tests.support.files import ROOT


class RoleProcess:
    """A role of ours as a subprocess in its own session, its output in a log file: stopped as
    a container runtime stops it (SIGTERM, then SIGKILL after 20 s). Subclasses say when it is
    ready (``wait_ready``)."""

    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the role stops what it runs itself
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Self:
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CeleryWorker(RoleProcess):
    """``celery -A tasks worker --beat`` on every queue (or ``command``), with the environment a
    test gives it."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        concurrency: int = 2,
        beat: bool = True,
        command: list[str] | None = None,
    ) -> None:
        self.log_path = log_path
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
        # Tests serve feeds from loopback, which the fetcher refuses unless allowed.
        full_env["MONITOR_ALLOW_PRIVATE_NETWORKS"] = "1"
        full_env.update(env)
        if command is None:
            command = [sys.executable, "-m", "celery", "-A", "tasks", "worker"]
            command += ["--queues", "poll,extract,deliver", "--concurrency", str(concurrency)]
            command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
            command += ["--without-heartbeat", *(["--beat"] if beat else [])]
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.log()}")
            if " ready." in self.log():
                return
            time.sleep(0.1)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.log()}")
