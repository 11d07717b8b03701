"""Syslog over TLS (RFC 5425): RFC 5424 messages with octet-counting framing (RFC 6587).

    <110>1 2026-12-01T13:14:15.123456Z host firebreak - IncidentOpened
        [firebreak@32473 id="…" position="42" stream="inc-…" hash="…"] \ufeff{…record…}

PRI is facility `log audit` (13, `facility=` to change it) and severity informational; MSGID
is the event type; the structured data carries the event's id, position, stream and hash so a
SIEM can deduplicate (32473 is the enterprise number RFC 5612 reserves for examples: the
element is an experimental one, as RFC 5424 allows). The server is verified against the
system's CAs or the `ca=` file; `cert=` and `key=` present a client certificate.

Syslog has no acknowledgement. A batch counts as delivered once the peer's TCP stack has
acknowledged every byte (Linux: the socket's unacknowledged send queue is empty), and the
connection is still open; a connection that breaks before then fails the batch, which is sent
again. What a receiver loses after its TCP stack took it (a crash of the receiver before it
wrote the message) a syslog sender cannot know: use HEC or Elasticsearch where that matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import re
import socket
import ssl
import struct
import termios
from collections.abc import Sequence
from datetime import UTC

from orchestrator.errors import ConfigError
from orchestrator.forwarding.models import Record, SinkConfig, SinkError

SD_ID = "firebreak@32473"
SEVERITY_INFO = 6
FACILITY_LOG_AUDIT = 13
BOM = "\ufeff"
DRAIN_POLL_SECONDS = 0.005
_NOT_PRINTABLE = re.compile(r"[^\x21-\x7e]")


def sd_value(value: str) -> str:
    """An SD-PARAM value with `"`, `\\` and `]` escaped (RFC 5424, 6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def header_field(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most `limit` chars, `-` if empty."""
    return _NOT_PRINTABLE.sub("_", value)[:limit] or "-"


class SyslogSink:
    def __init__(self, config: SinkConfig, timeout: float) -> None:
        self.config = config
        self.timeout = timeout
        facility = int(config.options.get("facility", FACILITY_LOG_AUDIT))
        self.pri = facility * 8 + SEVERITY_INFO
        self.hostname = header_field(config.options.get("hostname", socket.gethostname()), 255)
        self.app_name = header_field(config.options.get("app_name", "firebreak"), 48)
        try:
            self.tls = ssl.create_default_context(cafile=config.options.get("ca"))
            if "cert" in config.options:
                self.tls.load_cert_chain(config.options["cert"], config.options["key"])
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"sink {config.name}: cannot load its TLS files: {exc}") from None
        self._connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def message(self, record: Record) -> bytes:
        """One RFC 5424 message, octet-counted."""
        moment = record.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        params = {
            "id": record.id,
            "position": str(record.position),
            "stream": record.stream_id,
            "hash": record.hash,
        }
        data = " ".join(f'{name}="{sd_value(value)}"' for name, value in params.items())
        body = json.dumps(record.body, separators=(",", ":"), ensure_ascii=False)
        text = (
            f"<{self.pri}>1 {moment} {self.hostname} {self.app_name} - "
            f"{header_field(record.type, 32)} [{SD_ID} {data}] {BOM}{body}"
        ).encode()
        return str(len(text)).encode() + b" " + text

    async def send(self, records: Sequence[Record]) -> None:
        frames = b"".join(self.message(record) for record in records)
        where = f"{self.config.name}"
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await self._connect()
                writer.write(frames)
                await writer.drain()
                await _acknowledged(reader, writer)
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            await self.close()
            reason = "no answer in time" if isinstance(exc, TimeoutError) else _describe(exc)
            raise SinkError(f"{where}: {reason}") from None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._connection is not None:
            reader, writer = self._connection
            if reader.at_eof() or writer.is_closing():  # the receiver hung up since
                await self.close()
        if self._connection is None:
            self._connection = await asyncio.open_connection(
                self.config.host, self.config.port, ssl=self.tls, server_hostname=self.config.host
            )
        return self._connection

    async def close(self) -> None:
        if self._connection is not None:
            _, writer = self._connection
            self._connection = None
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError, ConnectionError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _acknowledged(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Return once the peer's TCP stack acknowledged everything written; raise if the
    connection closed (a syslog receiver never sends, so anything read means it hung up)."""
    sock = writer.get_extra_info("socket")
    while True:
        if reader.at_eof() or writer.is_closing():
            raise ConnectionError("the receiver closed the connection")
        buffered = writer.transport.get_write_buffer_size()
        if buffered == 0 and (sock is None or _unacknowledged(sock.fileno()) == 0):
            return
        await asyncio.sleep(DRAIN_POLL_SECONDS)


def _unacknowledged(fd: int) -> int:
    """Bytes of the socket's send queue the peer has not acknowledged (Linux `TIOCOUTQ`);
    0 where the call is not available."""
    try:
        raw = fcntl.ioctl(fd, termios.TIOCOUTQ, struct.pack("i", 0))
    except OSError:
        return 0
    return int(struct.unpack("i", raw)[0])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    return f"{type(exc).__name__}: {exc}"
