"""The sinks the forwarder sends to, one module each, behind one small interface.

`send` returns once the sink has acknowledged every record of the batch, or raises
`SinkError` (nothing counts as delivered: send again later) or `Rejected` (one record is
invalid for the sink). No message a sink raises holds a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from orchestrator.forwarding.models import Record, SinkConfig


class Sink(Protocol):
    async def send(self, records: Sequence[Record]) -> None: ...

    async def close(self) -> None: ...


def build_sink(config: SinkConfig, timeout: float) -> Sink:
    """The sink `config` describes; `ConfigError` for a secret variable not set or a CA file
    that cannot be read."""
    if config.kind == "syslog":
        from orchestrator.forwarding.sinks.syslog import SyslogSink

        return SyslogSink(config, timeout)
    if config.kind == "hec":
        from orchestrator.forwarding.sinks.hec import HecSink

        return HecSink(config, timeout)
    from orchestrator.forwarding.sinks.elasticsearch import ElasticsearchSink

    return ElasticsearchSink(config, timeout)
