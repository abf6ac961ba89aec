"""The image runs: built from deploy/Dockerfile with buildah on a Debian base, and every role of
compose run in it against the tests' Redis, feed and webhook on loopback: each starts, reaches
ready and stops cleanly on SIGTERM, and a story on the feed becomes one alert at the webhook.

Slow (about two minutes: debootstrap, a build that installs the dependencies from PyPI), and
part of the default run. Skipped only where the machine cannot build images; the reason says
which check failed.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
import yaml

from tests.support.feeds import rss
from tests.support.files import ROOT, SEED, SEED_TITLE
from tests.support.image import Buildah, Running, missing_prerequisite
from tests.support.redis_server import RedisServer
from tests.support.servers import SiteServer, WebhookSink, free_port

pytestmark = pytest.mark.slow

RULES_IN_IMAGE = "/etc/monitor/rules.yaml"
ROLES = ("worker-io", "worker-cpu", "beat", "receiver")
# What each role logs once it is ready to work.
READY = {
    "worker-io": " ready.",
    "worker-cpu": " ready.",
    "beat": "beat: Starting...",
    "receiver": "receiver listening on",
}
# What buildah itself adds to the output of a command that fails.
BUILDAH_NOISE = ("subprocess exited with status", "Error: exit status")


@dataclass
class Built:
    name: str
    base_seconds: float
    build_seconds: float
    size: str


@pytest.fixture(scope="module")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    reason = missing_prerequisite()
    if reason is not None:
        pytest.skip(reason)
    tool = Buildah(tmp_path_factory.mktemp("buildah"))
    try:
        yield tool
    finally:
        tool.remove_everything()


@pytest.fixture(scope="module")
def image(buildah: Buildah) -> Built:
    started = time.monotonic()
    base = buildah.make_base()
    based = time.monotonic()
    name = buildah.build(base)
    return Built(name, based - started, time.monotonic() - based, buildah.size(name))


def compose_service(name: str) -> dict[str, object]:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    service: dict[str, object] = compose["services"][name]
    return service


def monitor_output(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line and not line.startswith(BUILDAH_NOISE)]


def test_the_build_context_holds_only_what_the_image_is_built_from(
    buildah: Buildah, tmp_path: Path
) -> None:
    probe = tmp_path / "Containerfile"
    probe.write_text("FROM scratch\nCOPY . /context/\n", encoding="utf-8")
    buildah("bud", "--isolation", "chroot", "-f", str(probe), "-t", "localhost/context", str(ROOT))
    container = buildah.container("localhost/context")
    context = Path(buildah("mount", container)) / "context"
    assert sorted(p.name for p in context.iterdir()) == [
        "README.md",
        "monitor",
        "pyproject.toml",
        "tasks",
    ]
    assert not list(context.rglob("__pycache__"))
    assert (context / "monitor" / "cli" / "main.py").is_file()


def test_the_image_is_built_with_its_healthcheck_and_a_user_that_is_not_root(
    image: Built, buildah: Buildah, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(
            f"\nimage {image.name}: base in {image.base_seconds:.0f} s, built in "
            f"{image.build_seconds:.0f} s, {image.size}"
        )
    assert buildah("inspect", "--format", "{{.OCIv1.Config.User}}", image.name) == "10001"
    healthcheck = buildah("inspect", "--format", "{{.Docker.Config.Healthcheck.Test}}", image.name)
    assert healthcheck == "[CMD monitor health --no-beat]"
    container = buildah.container(image.name)
    assert buildah.run(container, ["id", "-u"]).stdout.strip() == "10001"


def test_the_command_runs_in_the_image(image: Built, buildah: Buildah) -> None:
    container = buildah.container(image.name)
    version = buildah.run(container, ["monitor", "--version"])
    assert version.returncode == 0 and version.stdout.strip() == "monitor, version 0.1.0"
    example = f"{ROOT / 'examples' / 'rules.yaml'}:{RULES_IN_IMAGE}:ro"
    valid = buildah.run(
        container, ["monitor", "rules", "validate", RULES_IN_IMAGE], mounts=[example]
    )
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.startswith(f"{RULES_IN_IMAGE}: ok (12 feeds, 4 entities, 6 rules)")


def test_health_says_in_one_line_that_redis_is_absent_and_ok_when_it_answers(
    image: Built, buildah: Buildah, redis_server: RedisServer
) -> None:
    container = buildah.container(image.name)
    example = f"{ROOT / 'examples' / 'rules.yaml'}:{RULES_IN_IMAGE}:ro"
    absent = f"redis://127.0.0.1:{free_port()}/0"
    down = buildah.run(
        container, ["monitor", "health", "--no-beat"], {"REDIS_URL": absent}, [example]
    )
    assert down.returncode == 1
    lines = monitor_output(down.stderr)
    assert len(lines) == 1 and lines[0].startswith("unhealthy: broker: Redis does not answer")
    up = buildah.run(
        container, ["monitor", "health", "--no-beat"], {"REDIS_URL": redis_server.url}, [example]
    )
    assert (up.returncode, up.stdout.strip()) == (0, "ok"), up.stderr


@dataclass
class Deployment:
    """The roles of compose, running in the image against the tests' servers."""

    roles: dict[str, Running]
    metrics: dict[str, int]
    receiver_port: int
    webhook: WebhookSink
    env: dict[str, str]
    mounts: list[str]


@pytest.fixture(scope="module")
def deployment(
    image: Built,
    buildah: Buildah,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    redis_server.flush()
    folder = tmp_path_factory.mktemp("deployment")
    with SiteServer() as site, WebhookSink() as webhook:
        story = site.route("/2026/11/24/musk.html", SEED.read_bytes())
        feed = site.route(
            "/feed.xml",
            rss([{"title": SEED_TITLE, "link": story, "guid": story}]),
            content_type="application/rss+xml",
        )
        rules = folder / "rules.yaml"
        rules.write_text(
            f"feeds:\n  - {{url: '{feed}', every: 2s}}\n"
            "entities:\n  musk: [ماسك]\n  putin: [بوتين]\n"
            f"channels:\n  desk: ['{webhook.apprise_url()}']\n"
            "rules:\n  - {name: musk-putin, entities: {all: [musk, putin]}, notify: [desk]}\n",
            encoding="utf-8",
        )
        mounts = [f"{rules}:{RULES_IN_IMAGE}:ro"]
        env = {
            "REDIS_URL": redis_server.url,
            "MONITOR_ALLOW_PRIVATE_NETWORKS": "1",  # the feed and the webhook are on loopback
            "MONITOR_BEAT_INTERVAL": "1",
        }
        roles: dict[str, Running] = {}
        metrics: dict[str, int] = {}
        receiver_port = free_port()
        try:
            for name in ROLES:
                service = compose_service(name)
                command = list(service["command"])  # type: ignore[call-overload]
                if "--port" in command:  # on the host's network: a free port, not compose's
                    command[command.index("--port") + 1] = str(receiver_port)
                role_env = {**service.get("environment", {}), **env}  # type: ignore[dict-item]
                metrics[name] = free_port()  # each role on the host's network needs its own
                role_env["MONITOR_METRICS_PORT"] = str(metrics[name])
                roles[name] = buildah.start(
                    buildah.container(image.name),
                    command,
                    folder / f"{name}.log",
                    role_env,
                    mounts,
                )
            yield Deployment(roles, metrics, receiver_port, webhook, env, mounts)
        finally:
            for running in roles.values():
                running.kill()


@pytest.mark.parametrize("role", ROLES)
def test_each_role_of_compose_reaches_ready(
    deployment: Deployment, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seconds = deployment.roles[role].wait_for(READY[role])
    with capsys.disabled():
        print(f"\n{role}: ready {seconds:.1f} s after its start")


def test_a_story_on_the_feed_is_one_alert_at_the_webhook(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    posts = deployment.webhook.wait_for(1, timeout=120)
    received = time.monotonic() - deployment.roles["beat"].started
    assert posts[0]["json"]["title"] == f"[musk-putin] {SEED_TITLE}"
    time.sleep(6)  # three more polls of the feed, each of which could repeat the alert
    assert len(deployment.webhook.received) == 1
    with capsys.disabled():
        print(f"\nalert at the webhook {received:.1f} s after beat started, and no other in 6 s:"
              f" {posts[0]['json']['title']}")  # fmt: skip


def test_health_in_the_image_passes_with_beat_ticking(
    deployment: Deployment, buildah: Buildah, image: Built
) -> None:
    deployment.roles["beat"].wait_for(READY["beat"])
    deployment.webhook.wait_for(1, timeout=120)  # by then beat has ticked and a worker ran it
    checked = buildah.run(
        buildah.container(image.name), ["monitor", "health"], deployment.env, deployment.mounts
    )
    assert (checked.returncode, checked.stdout.strip()) == (0, "ok"), checked.stderr


@pytest.mark.parametrize("role", ["worker-io", "worker-cpu"])
def test_the_workers_serve_their_metrics(deployment: Deployment, role: str) -> None:
    deployment.roles[role].wait_for(READY[role])
    url = f"http://127.0.0.1:{deployment.metrics[role]}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert b"monitor_" in response.read()


def test_the_receiver_answers_in_the_image(deployment: Deployment) -> None:
    deployment.roles["receiver"].wait_for(READY["receiver"])
    http = urllib3.PoolManager(retries=False, timeout=10)
    base = f"http://127.0.0.1:{deployment.receiver_port}"
    assert http.request("GET", base + "/healthz").json() == {"status": "ok"}
    refused = http.request("POST", base + "/v1/articles", json={"text": "Musk"})
    assert refused.status == 401  # no token given; none is set in the test's environment


@pytest.mark.parametrize("role", ROLES)
def test_each_role_stops_cleanly_on_sigterm(
    deployment: Deployment, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    running = deployment.roles[role]
    running.wait_for(READY[role])
    asked = time.monotonic()
    status = running.terminate()
    assert status == 0, running.output()[-3000:]
    assert "Traceback" not in running.output()
    with capsys.disabled():
        print(f"\n{role}: stopped {time.monotonic() - asked:.1f} s after SIGTERM, exit {status}")
