"""Connecting to Temporal the one way every Firebreak process does.

The data converter speaks pydantic (the domain models) and wraps every payload in the
encryption codec; TLS and an API key come from settings for Temporal Cloud or a secured
cluster. A server that cannot be reached is `Unavailable`, not a traceback. With tracing on,
Temporal's tracing interceptor carries the trace context in headers, which the codec leaves
as they are (only payloads are sealed), to the workers that use this client.
"""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from orchestrator.errors import ConfigError, Unavailable
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings
from orchestrator.telemetry import temporal_interceptors
from orchestrator.temporal.codec import EncryptionCodec


def data_converter(ring: KeyRing) -> DataConverter:
    """Pydantic payloads, encrypted with `ring`; worker and clients must share the ring."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(ring))


def _tls(settings: Settings) -> TLSConfig | bool:
    cert, key = settings.temporal_tls_cert, settings.temporal_tls_key
    if (cert is None) != (key is None):
        raise ConfigError("FIREBREAK_TEMPORAL_TLS_CERT and _TLS_KEY must be set together")
    if cert is not None and key is not None:
        try:
            return TLSConfig(client_cert=cert.read_bytes(), client_private_key=key.read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read Temporal TLS files: {exc.strerror}") from None
    return settings.temporal_api_key is not None


async def connect(settings: Settings) -> Client:
    ring = KeyRing.load_or_create(settings.keyring_path)
    api_key = settings.temporal_api_key
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(ring),
            tls=_tls(settings),
            api_key=api_key.get_secret_value() if api_key else None,
            interceptors=temporal_interceptors(),
        )
    except RuntimeError as exc:
        # The SDK's core threads still release Python objects just after a failed connect; a
        # process that exits at once (the CLI) can abort in interpreter finalisation unless it
        # gives them a moment (how often: docs/benchmarks.md, "A failed Temporal connect").
        await asyncio.sleep(0.2)
        raise Unavailable(
            f"cannot reach Temporal at {settings.temporal_address}: {type(exc).__name__}"
        ) from None
