"""Exchange rates for money thresholds: a table of units per euro, and conversion through it.

Where a rate comes from, the later winning: the ECB table shipped in ``monitor/money/data`` (its
date is in the table), the last refresh from ``MONITOR_RATES_URL`` (the ECB's daily XML), and
the ``rates:`` of the rules file. A currency with no rate is not converted: an amount in it
cannot satisfy a threshold in another currency, and the first time this happens for a
currency, one warning says so. No rate is ever guessed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from monitor.errors import PermanentError

log = logging.getLogger(__name__)

_ECB_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"


class RatesParseError(PermanentError):
    """The bytes are not an ECB reference-rate document we can read."""


@dataclass(frozen=True)
class RateTable:
    """Units of each currency per one euro, as of ``date``."""

    date: str
    per_euro: dict[str, Decimal]
    source: str = "ECB"
    _warned: set[str] = field(default_factory=set, compare=False, repr=False)

    def rate(self, currency: str) -> Decimal | None:
        return Decimal(1) if currency == "EUR" else self.per_euro.get(currency)

    def convert(self, value: Decimal, source: str, target: str) -> Decimal | None:
        """``value`` in ``source`` expressed in ``target``; None when a rate is missing."""
        if source == target:
            return value
        from_rate, to_rate = self.rate(source), self.rate(target)
        if from_rate is None or to_rate is None:
            missing = source if from_rate is None else target
            if missing not in self._warned:
                self._warned.add(missing)
                log.warning(
                    "no exchange rate for %s (table of %s): amounts in it are not converted; "
                    "add it under 'rates:' in the rules file",
                    missing,
                    self.date,
                )
            return None
        return value / from_rate * to_rate

    def merged(self, overrides: dict[str, Decimal], source: str) -> RateTable:
        """This table with ``overrides`` added or replacing its rates."""
        if not overrides:
            return self
        return RateTable(self.date, {**self.per_euro, **overrides}, f"{self.source} + {source}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "source": self.source,
            "per_euro": {code: str(rate) for code, rate in self.per_euro.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RateTable:
        rates = {code: Decimal(rate) for code, rate in data["per_euro"].items()}
        return cls(data["date"], rates, data.get("source", "ECB"))


def parse_ecb_xml(content: bytes, source: str | None = None) -> RateTable:
    """Read the ECB's daily reference-rate XML (``eurofxref-daily.xml``)."""
    # Untrusted XML: defusedxml refuses entity declarations (billion laughs) and external
    # entities outright instead of expanding them.
    try:
        root = fromstring(content)
    except ParseError as exc:
        raise RatesParseError(f"not XML: {exc}", subject=source) from None
    except DefusedXmlException as exc:
        raise RatesParseError(f"refused: {exc}", subject=source) from None
    day = root.find(f".//{_ECB_NS}Cube[@time]")
    if day is None:
        raise RatesParseError(
            "no <Cube time=...> element: not an ECB reference-rate file", subject=source
        )
    rates: dict[str, Decimal] = {}
    for cube in day.iter(f"{_ECB_NS}Cube"):
        code, rate = cube.get("currency"), cube.get("rate")
        if code is None or rate is None:
            continue
        try:
            value = Decimal(rate)
        except InvalidOperation:
            raise RatesParseError(
                f"rate {rate!r} for {code} is not a number", subject=source
            ) from None
        if value > 0 and len(code) == 3 and code.isalpha():
            rates[code.upper()] = value
    if not rates:
        raise RatesParseError("the file lists no rates", subject=source)
    return RateTable(str(day.get("time")), rates)


@lru_cache(maxsize=1)
def shipped_rates() -> RateTable:
    """The ECB table that ships with the monitor."""
    data = resources.files("monitor.money.data").joinpath("eurofxref-daily.xml").read_bytes()
    return parse_ecb_xml(data)
