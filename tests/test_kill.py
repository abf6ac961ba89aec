"""A worker killed with SIGKILL in the middle of delivery loses no alert and shows none twice:
a message goes out again only when the kill fell after the target accepted it and before the
store recorded it, and then under the same idempotency key as its first copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.killing import SlowWebhook, run_kill_scenario
from tests.support.mail import SmtpSink
from tests.support.servers import SiteServer


@pytest.fixture
def slow_webhook() -> Iterator[SlowWebhook]:
    sink = SlowWebhook(delay=1.0)
    try:
        yield sink
    finally:
        sink.stop()


def test_sigkill_mid_delivery_loses_nothing_and_repeats_nothing(
    tmp_path: Path, redis_url: str, site: SiteServer, smtp: SmtpSink, slow_webhook: SlowWebhook
) -> None:
    figures = run_kill_scenario(tmp_path, redis_url, site, smtp, slow_webhook, kills=1)
    print(figures)
    assert figures.kills == 1
    assert figures.abandoned >= 1, "the kill did not land while a delivery was in flight"
    assert figures.lost == 0, figures
    assert figures.duplicates == 0, figures
    # A repeat on the wire only where the kill fell between the target's acceptance and the
    # store's record (the window monitor.alerts.delivery documents); usually there is none.
    assert figures.repeats == figures.in_window, figures
    assert figures.sent == figures.expected + figures.repeats
