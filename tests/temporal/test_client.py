"""`connect`: settings mistakes and an unreachable server are one-line errors, not tracebacks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from orchestrator.errors import ConfigError, Unavailable
from orchestrator.settings import Settings
from orchestrator.temporal.client import connect, wait_for_temporal
from orchestrator.temporal.codec import EncryptionCodec
from tests.support.ports import free_port


async def test_connect_uses_the_encryption_codec(
    temporal_dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    target = temporal_dev_env.client.service_client.config.target_host
    settings = Settings(data_dir=tmp_path, temporal_address=target)
    client = await connect(settings)
    assert isinstance(client.data_converter.payload_codec, EncryptionCodec)
    assert settings.keyring_path.is_file(), "the key ring is created on first use"


async def test_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(data_dir=tmp_path, temporal_address=address)
    with pytest.raises(Unavailable, match=f"cannot reach Temporal at {address}"):
        await connect(settings)


async def test_tls_cert_without_key_is_a_config_error(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("not really a certificate")
    settings = Settings(data_dir=tmp_path, temporal_tls_cert=cert)
    with pytest.raises(ConfigError, match="must be set together"):
        await connect(settings)
    missing = Settings(data_dir=tmp_path, temporal_tls_cert=cert, temporal_tls_key=tmp_path / "k")
    with pytest.raises(ConfigError, match="cannot read Temporal TLS files"):
        await connect(missing)


async def test_waiting_retries_only_an_unreachable_server(tmp_path: Path) -> None:
    """A settings mistake is no reason to wait: it fails at the first attempt, unannounced."""
    cert = tmp_path / "client.pem"
    cert.write_text("not really a certificate")
    settings = Settings(data_dir=tmp_path, temporal_tls_cert=cert, temporal_connect_seconds=60)
    said: list[str] = []
    with pytest.raises(ConfigError, match="must be set together"):
        await wait_for_temporal(settings, said.append, asyncio.Event())
    assert said == []


async def test_a_stop_during_the_wait_returns_none(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(data_dir=tmp_path, temporal_address=address, temporal_connect_seconds=60)
    stop = asyncio.Event()
    said: list[str] = []

    def announce(line: str) -> None:
        said.append(line)
        stop.set()

    assert await wait_for_temporal(settings, announce, stop) is None
    assert said == [f"waiting for Temporal at {address}: attempt 1, next in 1s"]
