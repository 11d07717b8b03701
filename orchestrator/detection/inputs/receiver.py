"""The OTLP/HTTP receiver: `POST /v1/traces` and `POST /v1/metrics`, as a collector's
`otlphttp` exporter (or an SDK's OTLP exporter) sends them.

Bodies are protobuf or OTLP/JSON, gzip-compressed or not, at most `MAX_BODY_BYTES`; a request
is answered with the signal's empty `Export*ServiceResponse` only after its events went through
the engine, so an exporter's retry is what back-pressure looks like. A bearer token (the
exporter's `headers: {authorization: "Bearer …"}`) is required when one is configured, and must
be configured when the receiver listens beyond loopback.
"""

from __future__ import annotations

import gzip
import hmac
import zlib
from collections.abc import Awaitable, Callable

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from orchestrator.detection.inputs.otlp import JSON, PROTOBUF, metric_events, trace_events
from orchestrator.detection.models import TelemetryEvent
from orchestrator.errors import FirebreakError, InvalidInput, PayloadTooLarge

MAX_BODY_BYTES = 16 << 20
Handle = Callable[[list[TelemetryEvent]], Awaitable[None]]


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            decoder = zlib.decompressobj(wbits=31)
            body = decoder.decompress(body, MAX_BODY_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile):
            raise InvalidInput("body: not valid gzip") from None
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"decompressed body over {MAX_BODY_BYTES} bytes")
    return body


def otlp_app(handle: Handle, token: str | None) -> Starlette:
    """The receiver's ASGI app, handing each request's events to `handle`."""
    expected = f"Bearer {token}".encode() if token else None

    def endpoint(
        decode: Callable[[bytes, str], list[TelemetryEvent]], answer: bytes
    ) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            if expected is not None:
                offered = request.headers.get("authorization", "").encode()
                if not hmac.compare_digest(offered, expected):
                    return PlainTextResponse("a bearer token is required", status_code=401)
            content_type = request.headers.get("content-type", PROTOBUF)
            try:
                events = decode(await _body(request), content_type)
            except FirebreakError as exc:
                # OTLP/HTTP answers a request it cannot read with 400 (never to be retried)
                status = 400 if exc.status == InvalidInput.status else exc.status
                return PlainTextResponse(exc.detail, status_code=status)
            await handle(events)
            if content_type.startswith(JSON):
                return Response(b"{}", media_type=JSON)
            return Response(answer, media_type=PROTOBUF)

        return receive

    return Starlette(
        routes=[
            Route(
                "/v1/traces",
                endpoint(trace_events, ExportTraceServiceResponse().SerializeToString()),
                methods=["POST"],
            ),
            Route(
                "/v1/metrics",
                endpoint(metric_events, ExportMetricsServiceResponse().SerializeToString()),
                methods=["POST"],
            ),
        ]
    )
