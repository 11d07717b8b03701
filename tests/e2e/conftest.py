"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest

from tests.support.ports import free_port


@pytest.fixture
def ports() -> dict[str, int]:
    """Free loopback ports for the API, the embedded Temporal server and its UI."""
    return {"api": free_port(), "temporal": free_port(), "ui": free_port()}
