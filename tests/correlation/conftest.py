"""Correlation tests' shared pieces: routes with entity correlation, and real-shaped
Alertmanager deliveries (as Prometheus rules produce them) naming one API key."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrator.settings import Settings
from tests.routing.conftest import served
from tests.routing.test_service import fixture

__all__ = ["served"]  # the routing tests' served stack, re-used here

CORRELATED_ROUTES = (
    Path(__file__).resolve().parents[1] / "fixtures" / "routing" / "correlated_routes.yaml"
)
INJECTION, SPEND = 0, 1  # the alerts of prometheus_alertmanager.json


@pytest.fixture
def fb_settings(fb_settings: Settings) -> Settings:
    """The suite's settings, with the correlated routes."""
    return fb_settings.model_copy(update={"routes_file": CORRELATED_ROUTES})


def delivery(which: int, key: str, namespace: str = "llm-prod") -> dict[str, Any]:
    """One Alertmanager delivery of one alert (a fresh fingerprint) naming API key `key`."""
    body = copy.deepcopy(fixture("prometheus_alertmanager.json"))
    alert = body["alerts"][which]
    alert["labels"] |= {"api_key_id": key, "namespace": namespace}
    alert["fingerprint"] = uuid.uuid4().hex[:16]
    body["alerts"] = [alert]
    return body
