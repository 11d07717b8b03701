"""A real OTLP/HTTP receiver on loopback: what a collector's `otlp` receiver does with
`POST /v1/traces` and `POST /v1/metrics` (or any other path an exporter is pointed at).

Firebreak's exporters are the SDK's own, so this is the other end of the real protocol: trace
bodies are `ExportTraceServiceRequest` messages (gzip when the exporter compresses), decoded
here with `opentelemetry-proto` and answered with an `ExportTraceServiceResponse`; each span is
kept flattened, with the `service.name` of the resource that sent it. Every export request,
traces or metrics, is also kept as it came (`next()`), for tests that decode it themselves.
"""

from __future__ import annotations

import contextlib
import gzip
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.support.providers import Recorded, Reply, serving

KIND_NAMES = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}


@dataclass(frozen=True)
class Link:
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    attributes: dict[str, Any]
    links: tuple[Link, ...]


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which) if which else None


def decode(body: bytes) -> list[ReceivedSpan]:
    """Every span of one `ExportTraceServiceRequest`."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=str(resource.get("service.name", "")),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=KIND_NAMES.get(span.kind, str(span.kind)),
                        attributes={kv.key: _value(kv.value) for kv in span.attributes},
                        links=tuple(
                            Link(link.trace_id.hex(), link.span_id.hex()) for link in span.links
                        ),
                    )
                )
    return spans


@dataclass(frozen=True)
class Received:
    """One export request as it came: its path, content type and (decompressed) body."""

    path: str
    content_type: str
    body: bytes


@dataclass
class Receiver:
    """The receiver's address (an exporter's `OTEL_EXPORTER_OTLP_ENDPOINT`) and what it got:
    the spans of every trace export (`requests` counts those), and every request in order."""

    endpoint: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    exports: queue.Queue[Received] = field(default_factory=queue.Queue)

    @property
    def url(self) -> str:
        return self.endpoint

    def received(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)

    def next(self, timeout: float = 60.0) -> Received:
        """The next export request of any kind, waiting for it (a generous bound, not a
        measurement)."""
        return self.exports.get(timeout=timeout)


@contextlib.contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """An OTLP/HTTP protobuf receiver on a free loopback port for the block."""
    state = Receiver()

    def export(request: Recorded) -> Reply:
        if request.method != "POST":
            return 405, {}, b""
        content_type = request.headers.get("content-type", "")
        if content_type != "application/x-protobuf":
            return 415, {}, b""
        body = request.body
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        state.exports.put(Received(request.path, content_type, body))
        if request.path != "/v1/traces":
            # An empty protobuf message is a valid Export*ServiceResponse of any signal.
            return 200, {"content-type": "application/x-protobuf"}, b""
        spans = decode(body)
        with state.lock:
            state.spans.extend(spans)
            state.requests += 1
        reply = ExportTraceServiceResponse().SerializeToString()
        return 200, {"content-type": "application/x-protobuf"}, reply

    with serving(export) as server:
        state.endpoint = server.url
        yield state
