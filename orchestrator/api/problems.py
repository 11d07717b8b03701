"""RFC 9457 problem details: the one shape every API error takes.

`FirebreakError` carries its status and title, so it is mapped here once; validation errors
name the offending field; anything unexpected becomes a bare 500 so no internals (stack
frames, SQL, secrets) reach the caller.
"""

from __future__ import annotations

import logging
import re
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.errors import FirebreakError, InvalidInput, RateLimited, Unauthorized

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)

_LOCATIONS = {"body", "query", "path", "header", "cookie"}


class Problem(BaseModel):
    """An error response (RFC 9457)."""

    type: str = Field(description="URI naming the kind of problem.")
    title: str
    status: int
    detail: str = ""
    field: str | None = Field(None, description="The request field at fault (422 only).")


def problem_type(title: str) -> str:
    return "urn:firebreak:problem:" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=problem_type(title), title=title, status=status, detail=detail, field=field
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def error_response(exc: FirebreakError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    field = exc.field if isinstance(exc, InvalidInput) else None
    if exc.status >= 500:
        log.warning("%s: %s", exc.title, exc.detail)
    return problem_response(exc.status, exc.title, exc.detail, field=field, headers=headers)


def field_of(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p != "[key]"]  # pydantic's marker for a mapping's key
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _firebreak(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FirebreakError)
    return error_response(exc)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    field = field_of(tuple(first.get("loc", ())))
    message = str(first["msg"]).removeprefix("Value error, ")  # a validator's own words
    return problem_response(422, InvalidInput.title, f"{field}: {message}", field=field)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": malformed JSON
        return problem_response(422, InvalidInput.title, "body is not valid JSON", field="body")
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(exc.status_code, title, detail, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Frames but not the message: exception texts can quote URLs, tokens or alert content.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "unhandled %s in %s %s\n%s", type(exc).__name__, request.method, request.url.path, frames
    )
    return problem_response(500, "Internal error", "the server could not handle this request")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FirebreakError, _firebreak)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` entries documenting each error status as a problem document."""
    return {
        status: {
            "content": {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}},
            "description": _DESCRIPTIONS.get(status, "Error"),
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    401: "No, unknown or revoked token",
    403: "The caller's role or environment scope does not allow this",
    404: "Not found",
    409: "Conflict",
    413: "Body larger than the configured limit",
    415: "Unsupported content type",
    422: "Invalid input; `field` names the offending field",
    429: "Rate limited; retry after `Retry-After` seconds",
    503: "A dependency (database, Temporal) is unreachable",
}
