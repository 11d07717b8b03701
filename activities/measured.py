"""Every provider call timed and its failures counted, labelled by provider and operation.

`measured(providers, names)` wraps each configured provider in a `Measured` proxy: every async
method called through it observes `firebreak_provider_call_seconds{provider, action}` and, when
it raises, counts `firebreak_provider_errors{provider, action}` (`action` is the capability and
the method, `keys.revoke`, `models.resolve` ...). The factory puts it inside `recorded`, so an
effect answered from the database is not a provider call and is not counted. A proxy rather than
one wrapper class per protocol: the figures must cover every method, including ones a protocol
gains later, and none of the providers has to know about metrics.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from orchestrator.telemetry.instruments import PROVIDER_CALL_SECONDS, PROVIDER_ERRORS

T = TypeVar("T")


class Measured:
    """`inner` with each of its async methods timed under (`provider`, `capability.method`)."""

    def __init__(self, inner: object, *, provider: str, capability: str) -> None:
        self._inner = inner
        self._provider = provider
        self._capability = capability

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(attribute):
            return attribute
        timed = _timed(attribute, self._provider, f"{self._capability}.{name}")
        self.__dict__[name] = timed  # built once: later look-ups never reach __getattr__
        return timed


def _timed(method: Callable[..., Any], provider: str, action: str) -> Callable[..., Any]:
    seconds = PROVIDER_CALL_SECONDS.labels(provider=provider, action=action)
    errors = PROVIDER_ERRORS.labels(provider=provider, action=action)

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        except asyncio.CancelledError:
            raise  # a stopping worker is not the provider's failure
        except Exception:
            errors.inc()
            raise
        finally:
            seconds.observe(time.perf_counter() - start)

    return call


def measure(inner: T, *, provider: str, capability: str) -> T:
    """`inner` as its protocol, every call through it measured."""
    return cast(T, Measured(inner, provider=provider, capability=capability))
