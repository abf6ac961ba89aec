"""Precision and recall of ``find_amounts`` on the Recognizers-Text currency oracle.

The oracle (Microsoft Recognizers-Text currency specs, MIT licence) lives beside the repository,
not in it: ``../shared/oracles/recognizers-currency/*.jsonl``; its README says what each field
means. An extracted amount counts as right when its span overlaps a labelled amount with the
same value and, where the label names one, the same currency. Labelled amounts with no value
(a bare currency word, "multibillion-dollar deal") are left out: we report amounts, not words.

    python tests/bench/oracle_money.py [--oracle DIR] [--misses N]
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.money.amounts import Amount, find_amounts  # noqa: E402

DEFAULT_ORACLE = ROOT.parent / "shared" / "oracles" / "recognizers-currency"
# Sub-units are not reported by design ("50 cents" matters to no threshold); recall is given
# with and without them.
SUB_UNITS = frozenset(
    {"Cent", "Centavo", "Centimes", "Pence", "Penique", "Penny", "Pesewa", "Sen", "Satoshi"}
)


def label_value(raw: str, lang: str) -> Decimal | None:
    """The oracle's value string as a number (fr/es/de use a decimal comma in some cases)."""
    text = raw.strip()
    if lang in ("fr", "es", "de") and "," in text and "." not in text:
        head, _, tail = text.rpartition(",")
        if len(tail) != 3:  # "2,75" is 2.75; "12,345" stays ambiguous and reads as grouping
            text = f"{head}.{tail}"
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def matches(found: Amount, label: dict[str, Any], value: Decimal) -> bool:
    if found.value != value:
        return False
    if label.get("currency") and found.currency != label["currency"]:
        return False
    if label.get("start") is None:
        return True
    return found.start <= label["end"] and label["start"] < found.end


def evaluate(path: Path, show_misses: int) -> tuple[int, int, int, int]:
    lang = path.stem
    tp = fp = fn = sub_missed = 0
    misses: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        found = find_amounts(case["input"])
        labels = [
            (label, value)
            for label in case["amounts"]
            if label["value"] is not None
            and (value := label_value(label["value"], lang)) is not None
        ]
        used: set[int] = set()
        for label, value in labels:
            hit = next(
                (i for i, a in enumerate(found) if i not in used and matches(a, label, value)),
                None,
            )
            if hit is None:
                fn += 1
                sub_missed += label.get("unit") in SUB_UNITS
                misses.append(f"  miss {label['text']!r} = {value} {label['currency']}")
            else:
                used.add(hit)
                tp += 1
        for i, amount in enumerate(found):
            if i not in used:
                fp += 1
                misses.append(f"  extra {amount.text!r} = {amount.value} {amount.currency}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    whole_units = tp / (tp + fn - sub_missed) if tp + fn - sub_missed else 1.0
    print(
        f"{lang}: {tp + fn} labelled amounts, precision {precision:.3f}, recall {recall:.3f} "
        f"({whole_units:.3f} leaving out {sub_missed} sub-unit amounts)"
    )
    for miss in misses[:show_misses]:
        print(miss)
    return tp, fp, fn, sub_missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracle", type=Path, default=DEFAULT_ORACLE)
    parser.add_argument("--misses", type=int, default=0, help="print up to N misses per language")
    args = parser.parse_args()
    files = sorted(args.oracle.glob("*.jsonl"))
    if not files:
        raise SystemExit(f"no oracle files in {args.oracle}: pass --oracle DIR")
    totals = [0, 0, 0, 0]
    for path in files:
        for i, n in enumerate(evaluate(path, args.misses)):
            totals[i] += n
    tp, fp, fn, sub_missed = totals
    print(
        f"all: precision {tp / (tp + fp):.3f}, recall {tp / (tp + fn):.3f} "
        f"({tp / (tp + fn - sub_missed):.3f} leaving out sub-units)"
    )


if __name__ == "__main__":
    main()
