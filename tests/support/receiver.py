"""The receiver role (``monitor serve``) as a subprocess on a free loopback port, as deployed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import urllib3

from tests.support.files import ROOT
from tests.support.servers import free_port
from tests.support.worker import RoleProcess


class ReceiverProcess(RoleProcess):
    """``monitor serve`` with the environment a test gives it; ``call`` makes a request."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "REDIS_"))}
        full_env["MONITOR_ALLOW_PRIVATE_NETWORKS"] = "1"  # the test sites are on loopback
        full_env.update(env)
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.http = urllib3.PoolManager(retries=False, timeout=10)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"receiver exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                if self.http.request("GET", self.base + "/healthz").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"receiver not ready after {timeout}s:\n{self.log()}")

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        sent = dict(headers or {})
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token}")
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        return self.http.request(method, self.base + path, body=data, headers=sent)
