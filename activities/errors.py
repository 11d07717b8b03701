"""The activities package's exception hierarchy, mapped to Temporal failures in one place.

Providers and activities raise these; `as_application_error` turns them into Temporal
`ApplicationError`s whose `type` is the class name and whose `non_retryable` flag comes from
the error, so retry policies and the workflow can branch on the type. Messages are shown to
responders and recorded in Temporal history: they must never contain secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy.exc import DBAPIError
from temporalio.exceptions import ApplicationError

from orchestrator.db import DATABASE_ERRORS, database_unavailable

MAX_RETRY_DELAY = timedelta(minutes=5)


class ActivityError(Exception):
    """Base of every error an activity raises on purpose.

    `retry_after` (seconds) is a system's back-pressure hint (HTTP 429 `Retry-After`): the next
    attempt waits that long instead of the retry policy's backoff, capped so a hostile or broken
    server cannot park a step for hours.
    """

    retryable: bool = True
    retry_after: float | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParams(ActivityError):
    """A step parameter is missing or malformed: retrying cannot help."""

    retryable = False

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class ResourceNotFound(ActivityError):
    """The key, model, version, dataset or agent named by the step does not exist."""

    retryable = False


class IntegrityFailure(ActivityError):
    """Stored content no longer matches its recorded checksum."""

    retryable = False


class ValidationFailed(ActivityError):
    """A model did not pass validation; the report is in the message."""

    retryable = False


class RetrainingFailed(ActivityError):
    """The retraining run ended in the `failed` state."""

    retryable = False


class ProviderError(ActivityError):
    """The system behind a provider failed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """The activities' own tables (the guard's claims, the effect records) unreachable, locked
    or unmigrated: a retryable `ProviderError` in one line, as the API reports the same."""
    try:
        yield
    except DATABASE_ERRORS as exc:
        assert isinstance(exc, DBAPIError)
        raise ProviderError(database_unavailable(exc, what).detail) from None


def as_application_error(exc: ActivityError) -> ApplicationError:
    delay = None
    if exc.retryable and exc.retry_after is not None and exc.retry_after > 0:
        delay = min(timedelta(seconds=exc.retry_after), MAX_RETRY_DELAY)
    return ApplicationError(
        exc.message,
        type=type(exc).__name__,
        non_retryable=not exc.retryable,
        next_retry_delay=delay,
    )
