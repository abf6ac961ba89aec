"""The Celery side of the monitor: the app, its schedule and thin tasks over ``monitor``.

``celery -A tasks worker`` and ``celery -A tasks beat`` find the app here.
"""

# The app comes first: it sets PROMETHEUS_MULTIPROC_DIR, which must be in place before anything
# imports prometheus_client (the tasks do, through monitor.metrics).
from tasks.app import app

__all__ = ["app"]

from tasks import signals, steps  # noqa: F401  (register the signal handlers and tasks)
