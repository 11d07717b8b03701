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


def free_port() -> int:
    for _ in range(200):
        port = random.randrange(LOW, HIGH)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port between {LOW} and {HIGH}")
