"""Port checks done before anything starts, so a taken port is one clear line, not a traceback
from deep inside the Temporal server or uvicorn."""

from __future__ import annotations

import socket

from orchestrator.errors import ConfigError


def ensure_port_free(host: str, port: int, variable: str) -> None:
    """Raise a ConfigError naming `variable` when `host:port` cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"{variable}: port {port} on {host} is not available ({exc.strerror}); "
                "stop what uses it or choose another port"
            ) from None


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
