"""The orchestrator's exception hierarchy.

Every error a user can cause is a `FirebreakError` carrying an HTTP status and a short title,
so the API maps it once to RFC 9457 problem details and the CLI to a one-line message.
Messages must never contain secrets: they are shown to callers and written to logs.
"""

from __future__ import annotations


class FirebreakError(Exception):
    """Base of every error the orchestrator raises on purpose."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigError(FirebreakError):
    """Configuration is missing or invalid; raised at start-up, naming the variable."""

    title = "Invalid configuration"


class InvalidInput(FirebreakError):
    status = 422
    title = "Invalid input"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class Unauthorized(FirebreakError):
    status = 401
    title = "Unauthorized"


class Forbidden(FirebreakError):
    status = 403
    title = "Forbidden"


class NotFound(FirebreakError):
    status = 404
    title = "Not found"


class Conflict(FirebreakError):
    status = 409
    title = "Conflict"


class ConcurrencyError(Conflict):
    """An append's expected stream version did not match the stored one."""

    title = "Concurrent modification"


class PayloadTooLarge(FirebreakError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(FirebreakError):
    status = 415
    title = "Unsupported media type"


class RateLimited(FirebreakError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(FirebreakError):
    """A dependency (database, Temporal) cannot be reached."""

    status = 503
    title = "Service unavailable"


class CryptoError(FirebreakError):
    """Key material is missing, wrong, or a ciphertext does not authenticate."""

    title = "Cryptographic failure"
