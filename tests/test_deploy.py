"""The deployment files say only true things: every command they run is a real command, every
environment variable they set is one something reads, and every setting is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli.main import main
from monitor.settings import Settings
from tests.support.files import ROOT

DEPLOY = ROOT / "deploy"
# Variables read by something other than our settings, each with who reads it.
READ_ELSEWHERE = {
    "REMAP_SIGTERM": "Celery: SIGTERM becomes a soft shutdown",
    "PYTHONUNBUFFERED": "Python",
}


def setting_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(str(alias.choices[0]) if hasattr(alias, "choices") else f"MONITOR_{name.upper()}")
    return names


def k8s_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def k8s_containers() -> Iterator[dict[str, Any]]:
    for doc in k8s_documents():
        if doc["kind"] == "Deployment":
            yield from doc["spec"]["template"]["spec"]["containers"]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return data


def our_compose_services() -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose()["services"].items()
        if svc.get("image", "").startswith("news-monitor")
    }


def commands() -> list[list[str]]:
    found = [svc["command"] for svc in our_compose_services().values()]
    for svc in our_compose_services().values():
        test = svc.get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD"]:
            found.append(test[1:])
    for container in k8s_containers():
        found.append(container["command"])
        for probe in ("livenessProbe", "readinessProbe"):
            if probe in container:
                found.append(container[probe]["exec"]["command"])
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for line in re.findall(r"^(?:CMD|\s+CMD) (\[.*\])$", dockerfile, re.MULTILINE):
        found.append(yaml.safe_load(line))
    return found


def test_the_files_parse_and_name_every_role() -> None:
    services = our_compose_services()
    assert {"worker-io", "worker-cpu", "beat", "flower"} <= set(services)
    assert compose()["services"]["flower"]["profiles"] == ["flower"]
    kinds = [(d["kind"], d["metadata"]["name"]) for d in k8s_documents()]
    assert ("Deployment", "monitor-beat") in kinds
    assert ("ConfigMap", "monitor-rules") in kinds and ("Secret", "monitor-secrets") in kinds
    assert sum(kind == "PodDisruptionBudget" for kind, _ in kinds) == 2
    beat = next(d for d in k8s_documents() if d["metadata"]["name"] == "monitor-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"


@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c)[:60])
def test_every_command_is_a_real_command(command: list[str]) -> None:
    program, args = command[0], command[1:]
    if program == "monitor":
        result = CliRunner().invoke(main, [*args, "--help"])
        assert result.exit_code == 0, result.output
    elif program == "celery":
        checked = subprocess.run(
            [sys.executable, "-m", "celery", *args, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "MONITOR_STATE_DIR": str(ROOT / ".pytest-state")},
        )
        assert checked.returncode == 0, checked.stderr[-2000:]
    else:
        pytest.fail(f"unknown program {program!r} in a deployment file")


def references(text: str) -> set[str]:
    """The ``${VAR}`` a rules file or compose file reads from the environment."""
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", text))


def unread(set_here: dict[str, str], also_read: set[str]) -> dict[str, str]:
    known = setting_names() | set(READ_ELSEWHERE) | also_read
    return {var: where for var, where in set_here.items() if var not in known}


def test_every_variable_compose_sets_is_read() -> None:
    mounted = references((DEPLOY / "rules.yaml").read_text("utf-8"))
    interpolated = references((DEPLOY / "compose.yaml").read_text("utf-8"))
    set_here = {
        line.split("=", 1)[0].lstrip("# "): "deploy/.env.example"
        for line in (DEPLOY / ".env.example").read_text("utf-8").splitlines()
        if "=" in line
    }
    for name, svc in our_compose_services().items():
        for var in svc.get("environment", {}):
            set_here[var] = f"compose service {name}"
    assert unread(set_here, mounted | interpolated) == {}


def test_every_variable_kubernetes_sets_is_read() -> None:
    mounted: set[str] = set()
    set_here: dict[str, str] = {}
    for doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            mounted |= references(doc["data"]["rules.yaml"])
        if doc["kind"] == "Secret":
            set_here.update({var: "k8s Secret" for var in doc["stringData"]})
    for container in k8s_containers():
        set_here.update(
            {v["name"]: f"k8s container {container['name']}" for v in container.get("env", [])}
        )
    assert unread(set_here, mounted) == {}


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = {m.group(1) for m in re.finditer(r"^\| `([A-Z_]+)` \|", readme, re.MULTILINE)}
    assert setting_names() - table == set()
    assert table - setting_names() == set(), "the table lists a variable nothing reads"
