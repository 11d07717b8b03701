"""The orchestrator's exception hierarchy.

Every error a user can cause is a `FirebreakError` carrying an HTTP status and a short title,
so the API maps it once to RFC 9457 problem details and the CLI to a one-line message.
Messages must never contain secrets: they are shown to callers and written to logs.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConcurrencyError",
    "ConfigError",
    "Conflict",
    "CryptoError",
    "FirebreakError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
]


class FirebreakError(Exception):
    """Base of every error the orchestrator raises on purpose. A subclass names its status
    and title in its class line: `class NotFound(FirebreakError, status=404, title=...)`."""

    status: int = 500
    title: str = "Internal error"

    def __init_subclass__(
        cls, *, status: int | None = None, title: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if title is not None:
            cls.title = title

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigError(FirebreakError, title="Invalid configuration"):
    """Configuration is missing or invalid; raised at start-up, naming the variable."""


class InvalidInput(FirebreakError, status=422, title="Invalid input"):
    """A request, file or argument is malformed; `field` names the part that is."""

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class Unauthorized(FirebreakError, status=401, title="Unauthorized"):
    """No valid credential: a missing or wrong token, signature or session."""


class Forbidden(FirebreakError, status=403, title="Forbidden"):
    """The caller is known but its role or scope does not allow this."""


class NotFound(FirebreakError, status=404, title="Not found"):
    """What the request names (an incident, a playbook, a principal) does not exist."""


class Conflict(FirebreakError, status=409, title="Conflict"):
    """The request contradicts the current state (a decision not applied, a clashing append)."""


class ConcurrencyError(Conflict, title="Concurrent modification"):
    """An append's expected stream version did not match the stored one."""


class PayloadTooLarge(FirebreakError, status=413, title="Payload too large"):
    """A body over the configured size limit."""


class UnsupportedMediaType(FirebreakError, status=415, title="Unsupported media type"):
    """A body in a content type the endpoint does not read."""


class RateLimited(FirebreakError, status=429, title="Too many requests"):
    """Over a rate limit; `retry_after` is the seconds to wait."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(FirebreakError, status=503, title="Service unavailable"):
    """A dependency (database, Temporal) cannot be reached."""


class CryptoError(FirebreakError, title="Cryptographic failure"):
    """Key material is missing, wrong, or a ciphertext does not authenticate."""
