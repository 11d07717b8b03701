"""Connecting to Temporal the one way every Firebreak process does.

The data converter speaks pydantic (the domain models) and wraps every payload in the
encryption codec; TLS and an API key come from settings for Temporal Cloud or a secured
cluster. A server that cannot be reached is `Unavailable`, not a traceback; the long-running
worker first waits for it (`wait_for_temporal`), since in a deployment it often starts before
Temporal is ready, or Temporal restarts under it. With tracing on,
Temporal's tracing interceptor carries the trace context in headers, which the codec leaves
as they are (only payloads are sealed), to the workers that use this client.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

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


FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 10.0
"""The backoff between attempts doubles from the first to this cap: a restarting frontend is
found within seconds of answering, without a tight loop against one that is down for long."""


async def wait_for_temporal(
    settings: Settings, announce: Callable[[str], None], stop: asyncio.Event
) -> Client | None:
    """`connect`, retried with capped exponential backoff for up to
    `settings.temporal_connect_seconds` (one `announce` line per failed attempt), then the last
    attempt's `Unavailable`. None when `stop` is set first: the process was told to stop while
    it waited, which is no error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.temporal_connect_seconds
    pause = FIRST_RETRY_SECONDS
    attempt = 1
    while True:
        try:
            client = await _unless(stop, connect(settings))
        except Unavailable:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise
            wait = min(pause, remaining)
            announce(
                f"waiting for Temporal at {settings.temporal_address}:"
                f" attempt {attempt}, next in {round(wait, 1):g}s"
            )
            try:
                await asyncio.wait_for(stop.wait(), wait)
                return None
            except TimeoutError:
                pass
            pause = min(pause * 2, MAX_RETRY_SECONDS)
            attempt += 1
            continue
        return client


async def _unless(stop: asyncio.Event, connecting: Coroutine[Any, Any, Client]) -> Client | None:
    """The client `connecting` gives, or None (the attempt cancelled) once `stop` is set."""
    attempt = asyncio.ensure_future(connecting)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({attempt, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if attempt.done():
        return attempt.result()
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await attempt
    return None
