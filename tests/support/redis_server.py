"""A private redis-server for tests and benchmarks, on a free loopback port, never the
shared one."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from tests.support.servers import FORBIDDEN_PORTS, HOST, _Stoppable, free_port


class RedisServer(_Stoppable):
    """A private `redis-server` on a free 127.0.0.1 port with its data in a temporary directory."""

    START_ATTEMPTS = 5

    def __init__(self, *, appendonly: bool = False, start_timeout: float = 10.0) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(
                "redis-server was not found on PATH; install it (e.g. `apt-get install "
                "redis-server`) to run the tests that need Redis"
            )
        self.executable = exe
        self.appendonly = appendonly
        self.start_timeout = start_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="test-redis-"))
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        last_error: Exception | None = None
        for _ in range(self.START_ATTEMPTS):
            try:
                self._start(free_port())
                return
            except RuntimeError as exc:  # most likely the port was taken meanwhile
                last_error = exc
        shutil.rmtree(self.dir, ignore_errors=True)
        raise RuntimeError(
            f"redis-server failed to start {self.START_ATTEMPTS} times: {last_error}"
        )

    @property
    def url(self) -> str:
        """The redis:// URL of database 0."""
        return f"redis://{HOST}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        """The file redis-server writes its log to."""
        return self.dir / "redis.log"

    def client(self) -> redis.Redis:
        """A new redis-py client for this server (close it when done)."""
        return redis.Redis(host=HOST, port=self.port, db=0, socket_timeout=5)

    def _command(self, port: int) -> list[str]:
        cmd = [
            self.executable,
            "--port", str(port),
            "--bind", HOST,
            "--dir", str(self.dir),
            "--save", "",
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip
        if self.appendonly:
            cmd += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            cmd += ["--appendonly", "no"]
        return cmd

    def _start(self, port: int) -> None:
        if port in FORBIDDEN_PORTS:
            raise ValueError(f"refusing to start a test Redis on the shared port {port}")
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self._command(port), stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir
        )
        self.port = port
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                self._reap()
                raise RuntimeError(f"redis-server exited on port {port}: {self._log_tail()}")
            try:
                with self.client() as conn:
                    if conn.ping():
                        return
            except redis.exceptions.RedisError:
                pass
            if time.monotonic() > deadline:
                self._terminate(signal.SIGKILL)
                raise RuntimeError(
                    f"redis-server did not answer PING on port {port} "
                    f"within {self.start_timeout}s: {self._log_tail()}"
                )
            time.sleep(0.02)

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def _reap(self) -> None:
        if self._proc is not None:
            self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _terminate(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._reap()

    @property
    def running(self) -> bool:
        """Whether the redis-server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def flush(self) -> None:
        """Delete every key in every database (FLUSHALL)."""
        with self.client() as conn:
            conn.flushall()

    def kill(self) -> None:
        """Crash the server with SIGKILL, keeping its data directory (for crash tests)."""
        self._terminate(signal.SIGKILL)

    def restart(self, *, hard: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL if `hard`) and start again on the same port and data dir."""
        self._terminate(signal.SIGKILL if hard else signal.SIGTERM)
        self._start(self.port)

    def stop(self) -> None:
        """Terminate redis-server, wait for it and delete its data directory."""
        self._terminate(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)
