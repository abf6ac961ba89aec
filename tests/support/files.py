"""Where tests find the project and their fixtures, wherever the test module sits."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SEED = (
    ROOT / "monitor" / "demo" / "articles" / "ar-musk-putin.html"
)  # the Arabic news article the project was given
SEED_TITLE = "وذكرت صحيفة الأعمال الأمريكية أن ” ماسك تحدث بانتظام مع بوتين”."
