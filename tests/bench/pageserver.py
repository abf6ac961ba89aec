"""A fast keep-alive HTTP/1.1 server for benchmarks: ``python pageserver.py DIR PORT``.

It runs in its own process and answers from responses built in advance, so the benchmark
measures our fetcher, not a slow server: a publisher's nginx answers in microseconds.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def responses(root: Path) -> dict[bytes, bytes]:
    built = {}
    for page in root.iterdir():
        body = page.read_bytes()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        built[f"/{page.name}".encode()] = head.encode() + body
    return built


async def serve(root: Path, port: int) -> None:
    pages = responses(root)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                path = request.split(b" ", 2)[1]
                writer.write(pages.get(path, NOT_FOUND))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))
