"""The deployment files say only true things: every command they run is a real command, every
environment variable they set is one something reads, and every setting is documented; Compose
and Kubernetes accept them as they stand, and what they refer to (Redis, queues, Secrets,
Deployments) exists. ``tests/test_image.py`` builds the image and runs its roles."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
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
    "REDIS_PASSWORD": "Redis itself (its --requirepass), and KEDA's trigger authentication",
}
KUSTOMIZATION = DEPLOY / "k8s" / "kustomization.yaml"
AUTOSCALING = DEPLOY / "k8s" / "autoscaling"


def setting_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(str(alias.choices[0]) if hasattr(alias, "choices") else f"MONITOR_{name.upper()}")
    return names


def yaml_documents(*paths: Path) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    return data


def k8s_documents() -> list[dict[str, Any]]:
    """What ``kubectl apply -k deploy/k8s/`` applies."""
    return yaml_documents(*(DEPLOY / "k8s" / name for name in kustomization()["resources"]))


def autoscaling_documents() -> list[dict[str, Any]]:
    return yaml_documents(*sorted(AUTOSCALING.glob("*.yaml")))


def named(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in k8s_documents() if (d["kind"], d["metadata"]["name"]) == (kind, name))


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
            if "exec" in container.get(probe, {}):  # httpGet probes name no command
                found.append(container[probe]["exec"]["command"])
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for line in re.findall(r"^(?:CMD|\s+CMD) (\[.*\])$", dockerfile, re.MULTILINE):
        found.append(yaml.safe_load(line))
    return found


def test_the_files_parse_and_name_every_role() -> None:
    services = our_compose_services()
    assert {"worker-io", "worker-cpu", "beat", "receiver", "flower"} <= set(services)
    assert compose()["services"]["flower"]["profiles"] == ["flower"]
    kinds = [(d["kind"], d["metadata"]["name"]) for d in k8s_documents()]
    assert ("Deployment", "monitor-beat") in kinds
    assert ("Deployment", "monitor-receiver") in kinds and ("Service", "monitor-receiver") in kinds
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
    elif program == "python" and args[:1] == ["-c"]:
        compile(args[1], "healthcheck", "exec")  # a syntax error fails here
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
        if doc["kind"] == "StatefulSet":  # Redis: a program of its own, that reads its own
            for container in doc["spec"]["template"]["spec"]["containers"]:
                mounted |= {v["name"] for v in container.get("env", [])}
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


def compose_program() -> list[str] | None:
    """``docker compose`` (v2) where there is one, else ``docker-compose``; None without."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_accepts_the_compose_file(tmp_path: Path) -> None:
    program = compose_program()
    if program is None:
        pytest.skip("no Compose here (apt-get install docker-compose; .ci/run does)")
    folder = tmp_path / "deploy"
    folder.mkdir()
    for name in ("compose.yaml", "rules.yaml"):
        shutil.copy(DEPLOY / name, folder / name)
    shutil.copy(DEPLOY / ".env.example", folder / ".env")  # as the README says to
    checked = subprocess.run(
        [*program, "-f", "compose.yaml", "--profile", "flower", "config"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr
    resolved = yaml.safe_load(checked.stdout)
    expected = {"redis", "worker-io", "worker-cpu", "beat", "receiver", "flower"}
    assert set(resolved["services"]) == expected
    assert resolved["services"]["worker-io"]["environment"]["REDIS_URL"] == (
        "redis://:change-me@redis:6379/0"
    )


@pytest.mark.parametrize(
    "doc", k8s_documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_kubernetes_accepts_every_manifest(doc: dict[str, Any]) -> None:
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_kustomization_applies_every_manifest_beside_it() -> None:
    files = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {KUSTOMIZATION.name}
    assert set(kustomization()["resources"]) == files
    images = {c["image"].split(":")[0] for c in k8s_containers()}
    assert {i["name"] for i in kustomization()["images"]} == images == {"news-monitor"}
    assert all(c.get("imagePullPolicy") == "IfNotPresent" for c in k8s_containers())


def test_the_redis_the_workers_are_given_is_shipped() -> None:
    secret = named("Secret", "monitor-secrets")["stringData"]
    url = urlsplit(secret["REDIS_URL"])
    service = named("Service", url.hostname or "")
    assert [p["port"] for p in service["spec"]["ports"]] == [url.port]
    redis = next(d for d in k8s_documents() if d["kind"] == "StatefulSet")
    template = redis["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    (container,) = template["spec"]["containers"]
    assert container["command"][:3] == ["redis-server", "--requirepass", "$(REDIS_PASSWORD)"]
    password = next(v for v in container["env"] if v["name"] == "REDIS_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {
        "name": "monitor-secrets",
        "key": "REDIS_PASSWORD",
    }
    assert url.password == secret["REDIS_PASSWORD"]  # the one password, in both places


def app_queues() -> set[str]:
    """The Celery app's queues, asked of a process of its own: importing tasks.app creates the
    app, which sets PROMETHEUS_MULTIPROC_DIR for every worker the tests start afterwards."""
    asked = subprocess.run(
        [sys.executable, "-c", "from tasks.app import QUEUES; print(*QUEUES)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MONITOR_STATE_DIR": str(ROOT / ".pytest-state")},
        check=True,
    )
    return set(asked.stdout.split())


def test_autoscaling_watches_the_queues_each_worker_consumes() -> None:
    docs = autoscaling_documents()
    auth = {d["metadata"]["name"]: d for d in docs if d["kind"] == "TriggerAuthentication"}
    secret = named("Secret", "monitor-secrets")
    redis_host = urlsplit(secret["stringData"]["REDIS_URL"]).netloc.rsplit("@", 1)[-1]
    scaled = [d for d in docs if d["kind"] == "ScaledObject"]
    watched: set[str] = set()
    assert {d["spec"]["scaleTargetRef"]["name"] for d in scaled} == {
        "monitor-worker-io",
        "monitor-worker-cpu",
    }
    for doc in scaled:
        deployment = named("Deployment", doc["spec"]["scaleTargetRef"]["name"])
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        command = container["command"]
        consumed = set(command[command.index("--queues") + 1].split(","))
        triggers = doc["spec"]["triggers"]
        assert {t["metadata"]["listName"] for t in triggers} == consumed
        watched |= consumed
        for trigger in triggers:
            assert trigger["type"] == "redis" and trigger["metadata"]["address"] == redis_host
            assert int(trigger["metadata"]["listLength"]) > 0
            (ref,) = auth[trigger["authenticationRef"]["name"]]["spec"]["secretTargetRef"]
            assert ref["name"] == "monitor-secrets" and ref["key"] in secret["stringData"]
        pdb = named("PodDisruptionBudget", deployment["metadata"]["name"])
        assert doc["spec"]["minReplicaCount"] > pdb["spec"]["minAvailable"]
    assert watched == app_queues()


def test_the_deploy_readme_gives_the_commands_compose_runs() -> None:
    table = (DEPLOY / "README.md").read_text(encoding="utf-8")
    given = re.findall(r"^\| [^|]+ \| `(celery [^`]+)` \|$", table, re.MULTILINE)
    run = {" ".join(c for c in svc["command"] if not c.startswith("--hostname") and "@%h" not in c)
           for svc in our_compose_services().values()}  # fmt: skip
    assert len(given) == 3 and set(given) <= run, (given, run)
