"""Run the receiver on uvicorn, bounded: a cap on header size and on connections at once,
a short keep-alive, no trust in forwarding headers (a client cannot pick the address its rate
limit is counted by)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import uvicorn

from monitor.context import Context
from monitor.receiver.app import MAX_HEADER_BYTES, make_app

MAX_CONNECTIONS = 256


def serve(ctx: Context, queue: Callable[[str], None], host: str, port: int) -> None:
    """Serve until stopped (SIGINT, SIGTERM: requests in progress finish first), then return:
    a stop asked for is a clean exit."""
    # uvicorn raises the stopping signal again once it has shut down, to the handler it found:
    # one that does nothing lets the process end with status 0, as the workers do.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, lambda *_: None)
    config = uvicorn.Config(
        make_app(ctx, queue),
        host=host,
        port=port,
        log_config=None,  # ours (monitor.logs)
        access_log=False,  # a line per request would bury the rest; metrics count them
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        limit_concurrency=MAX_CONNECTIONS,
        http="h11",  # whose cap on headers arriving in pieces is set here
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    uvicorn.Server(config).run()
