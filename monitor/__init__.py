"""News monitor: watches feeds and alerts when the news mentions what analysts watch."""

__version__ = "0.1.0"
