"""The Celery side of the monitor: the app, its schedule and thin tasks over ``monitor``.

``celery -A tasks worker`` and ``celery -A tasks beat`` find the app here.
"""

from tasks import steps  # noqa: F401  (registers the tasks with the app)
from tasks.app import app

__all__ = ["app"]
