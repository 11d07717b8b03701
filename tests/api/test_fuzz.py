"""Schemathesis against `/openapi.json` of the real app under uvicorn, authenticated as an
admin: no request may produce a 5xx, and every response must match the documented schema,
status codes and content types. Bounded to a few hundred examples so CI stays fast."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.factory import build_evidence_reader
from orchestrator import db
from orchestrator.api.app import create_app
from orchestrator.audit import open_event_store
from orchestrator.domain import Environment, Role
from orchestrator.principals.service import create_principal
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings
from orchestrator.temporal.client import data_converter
from tests.support.stories import Story

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class ServerThread(threading.Thread):
    """The API in its own thread and event loop (with its own Temporal client), so the
    synchronous fuzzer can call it over real HTTP."""

    def __init__(self, settings: Settings, temporal_target: str) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.target = temporal_target
        self.server: uvicorn.Server | None = None
        self.ready = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self.failure = exc
            self.ready.set()

    async def _serve(self) -> None:
        ring = KeyRing.load_or_create(self.settings.keyring_path)
        client = await Client.connect(self.target, data_converter=data_converter(ring))
        app = create_app(
            self.settings,
            temporal_client=client,
            store=open_event_store(self.settings),
            evidence=build_evidence_reader(self.settings),
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        serving = asyncio.create_task(self.server.serve())
        while not self.server.started and not serving.done():
            await asyncio.sleep(0.02)
        self.ready.set()
        await serving

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"


@pytest.fixture
def admin_token(fb_settings: Settings) -> str:
    engine = db.make_engine(fb_settings.db_url)
    try:
        return create_principal(engine, "fuzz-admin", Role.admin, list(Environment))[1]
    finally:
        engine.dispose()


@pytest.fixture
def api_schema(
    temporal_dev_env: WorkflowEnvironment, fb_settings: Settings, admin_token: str
) -> Iterator[schemathesis.BaseSchema]:
    store = open_event_store(fb_settings)
    for env in ("dev", "prod"):
        Story(store, environment=env).open().contain().request("quarantine").approve(
            "quarantine", "bob", ["bob"]
        )
    target = temporal_dev_env.client.service_client.config.target_host
    thread = ServerThread(fb_settings, target)
    thread.start()
    thread.ready.wait(30)
    assert thread.failure is None and thread.server is not None and thread.server.started
    try:
        yield schemathesis.openapi.from_url(f"{thread.url}/openapi.json")
    finally:
        thread.server.should_exit = True
        thread.join(30)


EXAMPLES_PER_MODE = 12


def test_api_conforms_to_its_schema(api_schema: schemathesis.BaseSchema, admin_token: str) -> None:
    """Every operation, valid and deliberately invalid inputs; failures are collected so one
    run reports every non-conforming operation at once."""
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
            )
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS
                )

            try:
                check()
            except Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body)
            except (Exception, BaseExceptionGroup) as exc:  # collect, then fail once
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)
