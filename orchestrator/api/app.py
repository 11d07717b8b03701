"""The FastAPI application factory: every domain router, one error mapping, one lifespan.

Temporal and the event store are injected by tests and by `firebreak up`; otherwise they are
opened from settings. The lifespan also follows the audit log into the incidents projection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from importlib.metadata import version

from anyio import to_thread
from fastapi import FastAPI
from temporalio.client import Client

from orchestrator.alerts.admission import Admission
from orchestrator.alerts.limits import RateLimiter
from orchestrator.alerts.views import router as alerts_router
from orchestrator.api.health import router as health_router
from orchestrator.api.metrics import build_registry, metrics_router
from orchestrator.api.problems import install_problem_handlers
from orchestrator.approvals.views import router as approvals_router
from orchestrator.audit import EventStore, open_event_store
from orchestrator.audit.views import router as audit_router
from orchestrator.console import views as console
from orchestrator.correlation.views import router as merge_router
from orchestrator.errors import Unavailable
from orchestrator.evidence.service import EvidenceReader
from orchestrator.evidence.views import router as evidence_router
from orchestrator.incidents.projector import IncidentProjector
from orchestrator.incidents.views import router as incidents_router
from orchestrator.principals.views import router as principals_router
from orchestrator.reports.views import router as reports_router
from orchestrator.routing.service import load_routes
from orchestrator.settings import Settings
from orchestrator.suppression.cache import ActiveWindows
from orchestrator.suppression.views import router as suppression_router
from orchestrator.telemetry import instrument_app
from orchestrator.telemetry.metrics import MetricsExport, export_config
from orchestrator.temporal.client import connect

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    temporal_client: Client | None = None,
    store: EventStore | None = None,
    evidence: EvidenceReader | None = None,
) -> FastAPI:
    """The API over `settings`. `evidence` is the configured evidence store
    (`activities.factory.build_evidence_reader`), which this package may not build itself;
    without one `GET /v1/evidence/...` answers 503."""
    otlp = export_config()  # a bad OTEL_* variable fails here, before anything serves
    owns_store = store is None
    event_store = store if store is not None else open_event_store(settings)
    registry = build_registry(event_store.engine, settings.sla)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.temporal is None:
            try:
                app.state.temporal = await connect(settings)
            except Unavailable as exc:
                log.warning("%s; not ready until it answers", exc.detail)
        # Each blocking call hops to a worker thread; past a few threads they only contend for
        # the GIL (figures: docs/benchmarks.md, `FIREBREAK_API_THREADS`).
        to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        projector = IncidentProjector(event_store.engine, event_store)
        following = asyncio.create_task(projector.run(), name="incidents-projection")
        exporting = None if otlp is None else MetricsExport(registry, "api", otlp).start()
        try:
            yield
        finally:
            if exporting is not None:
                await to_thread.run_sync(exporting.stop)
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            app.state.alert_rate_limiter.close()
            if owns_store:
                event_store.engine.dispose()

    app = FastAPI(
        title="Firebreak",
        version=version("firebreak"),
        description="Incident response for production AI and agent systems.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = event_store
    app.state.evidence = evidence
    app.state.temporal = temporal_client
    app.state.temporal_connect = partial(connect, settings)
    app.state.temporal_lock = asyncio.Lock()
    app.state.alert_admission = Admission(settings.ingest_shed_after_seconds)
    app.state.alert_rate_limiter = RateLimiter(
        event_store.engine.url.render_as_string(hide_password=False),
        settings.rate_limit_per_minute,
    )
    app.state.alert_ingest = None  # needs the Temporal client: `deps.get_alert_ingest`
    app.state.routes = load_routes(settings)
    app.state.suppressions = ActiveWindows(event_store.engine)
    install_problem_handlers(app)
    for router in (
        health_router,
        alerts_router,
        incidents_router,
        reports_router,
        approvals_router,
        merge_router,
        audit_router,
        evidence_router,
        principals_router,
        suppression_router,
        metrics_router(registry),
    ):
        app.include_router(router)
    console.install(app)
    instrument_app(app)
    return app
