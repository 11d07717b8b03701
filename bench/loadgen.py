"""A lean HTTP/1.1 client for load: keep-alive connections, JSON bodies, nothing else.

httpx's connection pool scans every connection for every queued request, which is quadratic
under a backlog: on two cores the benchmark's own client, not the server it measured, was the
bottleneck (about 2.5 ms of CPU per request against the bare endpoint's 0.7 ms). This client
spends a small fraction of that, leaving the cores to what is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

FAILURES = (OSError, asyncio.IncompleteReadError, ValueError, IndexError)


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                close = value == "close"
        data = await self._chunked() if chunked else await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    async def _chunked(self) -> bytes:
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Up to `size` connections to one server, opened on demand and reused."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, size: int = 64) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._prefix = f"Host: {self.host}:{self.port}\r\n{extra}"
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(size)

    async def post_json(self, path: str, payload: Any) -> tuple[int, bytes]:
        """POST `payload` as JSON; (status, body). Connection errors raise OSError."""
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\n{self._prefix}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        async with self._slots:
            reused = bool(self._idle)
            connection = self._idle.pop() if reused else await self._open()
            try:
                answer = await connection.request(head, body)
            except FAILURES as exc:
                connection.close()
                if not reused:
                    raise OSError(f"request failed: {exc!r}") from None
                # The server closed an idle keep-alive connection (uvicorn: after 5 s) before
                # reading the request: send it once more on a new one, as httpx does.
                connection = await self._open()
                try:
                    answer = await connection.request(head, body)
                except FAILURES as again:
                    connection.close()
                    raise OSError(f"request failed: {again!r}") from None
            if not connection.closed:
                self._idle.append(connection)
            return answer

    async def _open(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return Connection(reader, writer)

    async def close(self) -> None:
        for connection in self._idle:
            connection.close()
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()
        self._idle.clear()


class RoundRobin:
    """Requests spread over several servers' pools in turn, as a load balancer does."""

    def __init__(self, pools: list[Pool]) -> None:
        self._pools = pools
        self._turn = itertools.cycle(pools)

    async def post_json(self, path: str, payload: Any) -> tuple[int, bytes]:
        return await next(self._turn).post_json(path, payload)

    async def close(self) -> None:
        for opened in self._pools:
            await opened.close()


@contextlib.asynccontextmanager
async def pool(
    url: str | Sequence[str], headers: dict[str, str] | None = None, size: int = 64
) -> AsyncIterator[Pool | RoundRobin]:
    """A pool to `url`, or to each of several URLs used in turn (`size` connections each)."""
    urls = [url] if isinstance(url, str) else list(url)
    pools = [Pool(u, headers, size) for u in urls]
    opened: Pool | RoundRobin = pools[0] if len(pools) == 1 else RoundRobin(pools)
    try:
        yield opened
    finally:
        await opened.close()
