"""What HTTP instrumentation may record of a URL: scheme, host, port and path.

Query strings carry credentials (presigned S3 URLs, `?api_key=`, webhook tokens some senders put
there) and userinfo carries passwords; the instrumentations' own redaction knows four query
parameter names. So every URL attribute of an HTTP span, client or server, is cut down to
what names the endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

URL_ATTRIBUTES = ("http.url", "url.full")
"""A URL in full, in the old and the stable HTTP semantic conventions."""
TARGET_ATTRIBUTES = ("http.target",)
QUERY_ATTRIBUTES = ("url.query",)
REDACTED = "REDACTED"
SENSITIVE_HEADERS = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "webhook-signature",
    "x-firebreak-token",
    ".*token.*",
    ".*secret.*",
    ".*signature.*",
)
"""Headers whose value is never recorded, even when an operator asks the instrumentations to
capture headers (`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`)."""


def endpoint_of(url: str) -> str:
    """`url` without userinfo, query or fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return REDACTED
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def scrub(span: Any) -> None:
    """Rewrite the URL attributes an HTTP instrumentation set on `span` (an SDK span; the
    instrumentations' hooks get it right after they set them)."""
    attributes: Mapping[str, object] = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, endpoint_of(value))
    for name in TARGET_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, value.split("?", 1)[0])
    for name in QUERY_ATTRIBUTES:
        if attributes.get(name):
            span.set_attribute(name, REDACTED)
