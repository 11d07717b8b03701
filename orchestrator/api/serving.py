"""How the API is served, the same for `firebreak api` and the all-in-one `firebreak up`.

No `Server` header (it names the server software to anyone who asks), and no trust in
`X-Forwarded-*` headers: a client could otherwise choose the address that rate limits and logs
see. A deployment behind a proxy terminates TLS there and passes the connection as is.

Stopping: on SIGTERM or SIGINT uvicorn closes the listening socket, lets requests in flight
finish for up to `FIREBREAK_API_SHUTDOWN_SECONDS` (then cancels them), runs the app's shutdown
and returns. `StoppingServer` makes that return the end of the process, exit status 0: uvicorn
itself re-raises the signal afterwards, so a supervisor would see every orderly stop as
"killed by SIGTERM" (143) and could not tell it from a crash it caused.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from orchestrator.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppingServer(uvicorn.Server):
    """uvicorn's graceful stop on SIGINT/SIGTERM (a second SIGINT forces it), without the
    re-raised signal afterwards."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def server_config(app: FastAPI, settings: Settings, *, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=log_level,
        access_log=settings.api_access_log,
        proxy_headers=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.api_shutdown_seconds,
    )
