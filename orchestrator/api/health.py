"""`/healthz` (the process answers) and `/readyz` (database and Temporal reachable).

Readiness fails with 503 so a load balancer stops sending alerts to a replica that could not
make them durable; liveness stays green so the orchestrator does not restart it for an outage
elsewhere.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from orchestrator.api.deps import get_engine, get_temporal, problem_responses
from orchestrator.errors import Unavailable

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_SECONDS = 3.0


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses=problem_responses(503))
async def readyz(request: Request, engine: Annotated[sa.Engine, Depends(get_engine)]) -> Health:
    failures = []
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            await anyio.to_thread.run_sync(_ping, engine, abandon_on_cancel=True)
    except (SQLAlchemyError, TimeoutError):
        failures.append("database")
    try:
        client = await get_temporal(request)
        await client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS))
    except Exception:
        failures.append("temporal")
    if failures:
        raise Unavailable("not ready: " + ", ".join(failures) + " unreachable")
    return Health(status="ready", checks={"database": "ok", "temporal": "ok"})


def _ping(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
