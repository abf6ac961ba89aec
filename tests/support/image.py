"""The image, built with buildah and run in it, for tests: a private buildah store, a Debian
base made with debootstrap (no registry is reachable, so it stands in for python:3.11-slim),
and roles run with ``buildah run`` (chroot isolation, the host's network, so the image reaches
the tests' loopback servers).

Plain classes, no pytest: the image tests and anyone at a shell can use them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.support.files import ROOT

DEBIAN_MIRROR = os.environ.get("MONITOR_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What python:3.11-slim offers that our Dockerfile uses: `python` with venv, and certificates.
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
# The base image's own settings, as python:3.11-slim has them; PIP_CERT makes pip trust the
# system's authorities, those of the machine among them (see ``Buildah.make_base``).
BASE_CONTAINERFILE = """\
FROM scratch
ADD rootfs.tar /
ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
"""
BASE_IMAGE = "localhost/debian-python:3.11"
IMAGE = "localhost/news-monitor:test"


def missing_prerequisite() -> str | None:
    """Why this machine cannot build and run the image, or None when it can."""
    if os.geteuid() != 0:
        return "building the image needs root here (debootstrap, buildah's chroot isolation)"
    for tool in ("buildah", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install buildah debootstrap; .ci/run does)"
    return None


@dataclass
class Running:
    """A command running in a container of the image, its output going to ``log``."""

    process: subprocess.Popen[bytes]
    log: Path
    command: Sequence[str]
    _out: IO[bytes] = field(repr=False)
    started: float = field(default_factory=time.monotonic)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 90.0) -> float:
        """Until ``text`` appears in the output: the seconds since the start it took. Fails with
        the output's tail if it does not appear."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                state = "exited" if self.process.poll() is not None else "still running"
                raise AssertionError(
                    f"{' '.join(self.command)}: no {text!r} ({state}); "
                    f"its output ends:\n{self.output()[-3000:]}"
                )
            time.sleep(0.2)
        return time.monotonic() - self.started

    def inner_pid(self) -> int:
        """The process id of the command itself: chroot isolation starts it in the host's
        process namespace, under buildah's helpers. buildah, signalled, kills it; a container
        runtime signals the command, so the tests do too."""
        program = self.command[0]
        pending = [self.process.pid]
        while pending:
            pid = pending.pop()
            for child in _children(pid):
                names = _program_names(child)
                # buildah's own helpers name the command too, after themselves
                if program in names and "buildah" not in names[0]:
                    return child
                pending.append(child)
        raise AssertionError(f"{program} is not running under buildah {self.process.pid}")

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM to the command, as a container runtime sends it; its exit status."""
        os.kill(self.inner_pid(), signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._out.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self._out.close()


def _program_names(pid: int) -> list[str]:
    """The file names of a process's program and first argument: ``python``, ``celery``."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2]
    return [Path(arg.decode()).name for arg in argv]


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found: list[int] = []
        for task in tasks:
            found += [int(c) for c in (task / "children").read_text().split()]
        return found
    except (FileNotFoundError, ProcessLookupError):
        return []


class Buildah:
    """buildah on a store of its own under ``home`` (vfs: no kernel overlay needed), so the
    tests never touch the machine's images and containers."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.prefix = [
            "buildah",
            "--root", str(home / "storage"),
            "--runroot", str(home / "run"),
            "--storage-driver", "vfs",
        ]  # fmt: skip

    def __call__(self, *args: str, timeout: float = 600.0) -> str:
        done = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
        return done.stdout.strip()

    def make_base(self) -> str:
        """A Debian bookworm image with Python 3.11 from Debian, standing in for
        python:3.11-slim. It trusts the machine's own certificate authorities as well
        (a TLS-inspecting proxy's among them), as a site's base image would."""
        rootfs = self.home / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
             "bookworm", str(rootfs), DEBIAN_MIRROR],
            check=True, capture_output=True, timeout=900,
        )  # fmt: skip
        for authority in Path("/usr/local/share/ca-certificates").glob("*.crt"):
            shutil.copy(authority, rootfs / "usr/local/share/ca-certificates" / authority.name)
        subprocess.run(
            ["chroot", str(rootfs), "update-ca-certificates"],
            check=True,
            capture_output=True,
        )
        shutil.rmtree(rootfs / "var/lib/apt/lists")
        context = self.home / "base"
        context.mkdir()
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(context / "rootfs.tar"), "."],
                       check=True)  # fmt: skip
        shutil.rmtree(rootfs)
        (context / "Containerfile").write_text(BASE_CONTAINERFILE, encoding="utf-8")
        self("bud", "--isolation", "chroot", "-t", BASE_IMAGE, str(context))
        (context / "rootfs.tar").unlink()
        return BASE_IMAGE

    def build(self, base: str, tag: str = IMAGE) -> str:
        """Our image, from a clean copy of what the project's build context holds, built as
        the README says (Docker format, so the HEALTHCHECK is kept)."""
        self(
            "bud", "--isolation", "chroot", "--network", "host", "--format", "docker",
            "--build-arg", f"BASE_IMAGE={base}", "-f", "deploy/Dockerfile", "-t", tag,
            str(ROOT),
        )  # fmt: skip
        return tag

    def size(self, image: str) -> str:
        """The image's size as buildah prints it (``429 MB``)."""
        return self("images", "--format", "{{.Size}}", image)

    def container(self, image: str) -> str:
        return self("from", "--pull=never", image)

    def _run_args(
        self, container: str, command: Sequence[str], env: Mapping[str, str], mounts: Sequence[str]
    ) -> list[str]:
        args = [*self.prefix, "run", "--isolation", "chroot", "--network", "host"]
        for name, value in env.items():
            args += ["--env", f"{name}={value}"]
        for mount in mounts:
            args += ["--volume", mount]
        return [*args, container, "--", *command]

    def run(
        self,
        container: str,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        mounts: Sequence[str] = (),
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in a container to its end; its exit status and output."""
        return subprocess.run(
            self._run_args(container, command, env or {}, mounts),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(
        self,
        container: str,
        command: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        mounts: Sequence[str] = (),
    ) -> Running:
        """Start a long-running command (a role) in a container; see ``Running``."""
        out = log.open("wb")
        process = subprocess.Popen(
            self._run_args(container, command, env or {}, mounts),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        return Running(process, log, command, out)

    def remove_everything(self) -> None:
        subprocess.run([*self.prefix, "rm", "--all"], capture_output=True, check=False)
        subprocess.run([*self.prefix, "rmi", "--all", "--force"], capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)
