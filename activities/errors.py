"""The activities package's exception hierarchy, mapped to Temporal failures in one place.

Providers and activities raise these; `as_application_error` turns them into Temporal
`ApplicationError`s whose `type` is the class name and whose `non_retryable` flag comes from
the error, so retry policies and the workflow can branch on the type. Messages are shown to
responders and recorded in Temporal history: they must never contain secrets.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError


class ActivityError(Exception):
    """Base of every error an activity raises on purpose."""

    retryable: bool = True

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


def as_application_error(exc: ActivityError) -> ApplicationError:
    return ApplicationError(exc.message, type=type(exc).__name__, non_retryable=not exc.retryable)
