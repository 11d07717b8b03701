"""What every input shares: a client's network, a digest of input text, and time parsing.

A leaked key is "used from a new network", not "from a new address": a laptop's address moves
within its office or carrier network all day. Addresses are therefore reduced to their network
(IPv4 /24 and IPv6 /48 by default) before a detector sees them. Input text is reduced to a
digest at the edge, so no prompt is ever held by the engine or written to its baselines.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from datetime import UTC, datetime
from typing import Any

from orchestrator.errors import InvalidInput

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def network_of(address: str | None, v4: int = IPV4_PREFIX, v6: int = IPV6_PREFIX) -> str | None:
    """The network an address belongs to (`203.0.113.0/24`); a value that is not an address
    (a host name, an already reduced network) is kept as it is."""
    if not address:
        return None
    host = address.strip()
    if host.startswith("[") and "]" in host:
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]  # IPv4 with a port
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return address
    prefix = v4 if ip.version == 4 else v6
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def digest_of(value: Any) -> str | None:
    """A short stable digest of input text (or of structured messages, canonically encoded)."""
    if value is None or value == "" or value == []:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def count_of(value: Any) -> int:
    """A token count as sent (a number, or OTLP/JSON's int64-as-string); anything else is 0."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def parse_time(value: Any, field: str) -> datetime:
    """An ISO 8601 string (with or without zone: UTC assumed), or Unix seconds, milliseconds or
    nanoseconds as a number, as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        while seconds > 1e11:  # milliseconds, microseconds, nanoseconds
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str) and value:
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return parse_time(float(text), field)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{field}: not a time: {text[:40]!r}", field) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise InvalidInput(f"{field}: missing or not a time", field)
