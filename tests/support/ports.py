"""Free loopback ports for servers a test starts.

Picked below the kernel's ephemeral range (`ip_local_port_range`, 32768-60999 here): a port
the kernel handed out and took back (`bind(0)`) can be given again to any outgoing connection
before the server under test binds it, which made `firebreak up` fail with "address already in
use" under load. Outside that range only another listener can take it.
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32000
_handed_out: set[int] = set()
"""Ports already given in this process: two picks before either server binds (the API, the
Temporal server and its UI of one `firebreak up`) must not draw the same port."""


def free_port() -> int:
    for _ in range(200):
        port = random.randrange(LOW, HIGH)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port between {LOW} and {HIGH}")
