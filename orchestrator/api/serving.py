"""How the API is served, the same for `firebreak api` and the all-in-one `firebreak up`.

No `Server` header (it names the server software to anyone who asks), and no trust in
`X-Forwarded-*` headers: a client could otherwise choose the address that rate limits and logs
see. A deployment behind a proxy terminates TLS there and passes the connection as is.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from orchestrator.settings import Settings


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
    )
