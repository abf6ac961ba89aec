"""Exchange rates: the shipped ECB table, the scheduled refresh from an ECB XML served on
loopback, and untrusted XML that must not be expanded."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from monitor.context import Context, open_context
from monitor.money.rates import RatesParseError, parse_ecb_xml, shipped_rates
from monitor.pipeline import rates_due, refresh_rates
from monitor.settings import Settings
from tests.support.servers import SiteServer

ECB_DAY = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
    <Cube time='2026-11-24'>
      <Cube currency='USD' rate='1.2500'/>
      <Cube currency='JPY' rate='180.00'/>
      <Cube currency='GBP' rate='0.86000'/>
    </Cube>
  </Cube>
</gesmes:Envelope>
"""
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<Envelope xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref"><Cube><Cube time='&lol4;'>
<Cube currency='USD' rate='1.1'/></Cube></Cube></Envelope>"""


def test_the_shipped_table_is_the_ecb_reference_of_its_date() -> None:
    table = shipped_rates()
    assert table.date == "2026-10-02"
    assert table.per_euro["USD"] == Decimal("1.1225")
    assert len(table.per_euro) == 29
    assert table.convert(Decimal("112.25"), "USD", "EUR") == Decimal(100)
    assert table.convert(Decimal(100), "EUR", "EUR") == Decimal(100)
    assert table.convert(Decimal(100), "SAR", "EUR") is None  # the ECB publishes no SAR


def test_untrusted_xml_is_not_expanded() -> None:
    with pytest.raises(RatesParseError, match="refused"):
        parse_ecb_xml(BILLION_LAUGHS.encode())
    with pytest.raises(RatesParseError, match="not XML"):
        parse_ecb_xml(b"<html>503 Service Unavailable")
    with pytest.raises(RatesParseError, match="not an ECB reference-rate file"):
        parse_ecb_xml(b"<feed/>")


@pytest.fixture
def context(tmp_path: Path, site: SiteServer, redis_url: str) -> Iterator[Context]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "entities: {musk: [Musk]}\nchannels: {desk: ['json://127.0.0.1:9/x']}\n"
        "rules:\n  - {name: big, money: {min: 100, currency: EUR}, notify: [desk]}\n",
        encoding="utf-8",
    )
    settings = Settings(
        redis_url=redis_url,
        state_dir=tmp_path / "state",
        rates_url=site.url("/eurofxref-daily.xml"),
        allow_private_networks=True,  # the test site is on loopback
    )
    ctx = open_context(settings, rules)
    yield ctx
    ctx.close()


def test_refresh_from_a_loopback_copy_of_the_ecb_xml(context: Context, site: SiteServer) -> None:
    site.route("/eurofxref-daily.xml", ECB_DAY, content_type="text/xml")
    assert context.rates.date == "2026-10-02"  # shipped until the first refresh
    table = refresh_rates(context)
    assert table is not None and table.date == "2026-11-24"
    assert context.rates.per_euro["USD"] == Decimal("1.25")
    assert context.matcher.rates.convert(Decimal(125), "USD", "EUR") == Decimal(100)
    # every process reads the refreshed table from the store
    other = open_context(context.settings, context.rules_source.path)
    try:
        assert other.rates.date == "2026-11-24"
    finally:
        other.close()


def test_a_failed_refresh_keeps_the_previous_table(
    context: Context, site: SiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    site.route("/eurofxref-daily.xml", ECB_DAY, content_type="text/xml")
    refresh_rates(context)
    site.route("/eurofxref-daily.xml", "<html>maintenance</html>", content_type="text/html")
    with caplog.at_level(logging.WARNING):
        assert refresh_rates(context) is None
    (line,) = [r.getMessage() for r in caplog.records if "exchange rates" in r.getMessage()]
    assert "previous table stays" in line and site.url("/eurofxref-daily.xml") in line
    assert context.rates.date == "2026-11-24"


def test_refresh_is_due_once_per_interval(context: Context) -> None:
    assert rates_due(context)
    assert not rates_due(context)
