"""The forwarder's table (migration `0014` creates it) and the shapes its parts share.

`forwarder_cursors` holds one row per sink: the last ledger position the sink acknowledged
(moved only after it did, compare-and-set, so a crash re-sends rather than skips), running
totals of records forwarded and failed attempts, and the current failure if the sink is
failing. The API reads it for `/readyz` and `/metrics`, whichever process forwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

metadata = sa.MetaData()

cursors = sa.Table(
    "forwarder_cursors",
    metadata,
    sa.Column("sink", sa.String(200), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("forwarded", sa.BigInteger, nullable=False),
    sa.Column("errors", sa.BigInteger, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("failing_since", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

SinkKind = Literal["syslog", "hec", "elasticsearch"]
FormatName = Literal["jsonl", "ocsf"]
Sealed = Literal["keep", "open"]


class SinkConfig(BaseModel):
    """One sink, parsed from its URL (`config.parse_sink`). Holds no secret: a token or
    password is named by the environment variable that holds it (`*_env` options)."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: SinkKind
    url: str
    """The URL as configured (it carries no secret, so it can be shown)."""
    scheme: str
    """`tls` for syslog; `https` or `http` for HEC and Elasticsearch."""
    host: str
    port: int
    path: str = ""
    format: FormatName = "jsonl"
    sealed: Sealed = "keep"
    options: dict[str, str] = {}


@dataclass(frozen=True)
class Record:
    """One ledger event as a sink sends it: the formatted body, with the event's id and
    position beside it for each sink's envelope (syslog structured data, HEC fields, the
    Elasticsearch `_id`), so the SIEM can deduplicate what at-least-once delivery repeats."""

    position: int
    id: str
    type: str
    stream_id: str
    hash: str
    occurred_at: datetime
    body: dict[str, Any]


class SinkError(Exception):
    """The sink did not take the batch (down, busy, refused our credentials): nothing of it
    counts as delivered and it is sent again after a backoff (`retry_after` if it said)."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class Rejected(Exception):
    """The sink refused the record at `index` of the batch as invalid: sending it again will
    not help. The records before it are sent on; this one holds the sink's cursor, loudly,
    until the sink takes it (docs/observability.md, "Forwarding to a SIEM")."""

    def __init__(self, index: int, detail: str) -> None:
        super().__init__(detail)
        self.index = index
        self.detail = detail


class SinkStatus(BaseModel):
    """A sink's cursor row, with the ledger head it lags behind: what `/readyz`, `/metrics`
    and `firebreak audit forward` report."""

    sink: str
    position: int
    lag: int
    forwarded: int
    errors: int
    last_error: str | None
    failing_since: datetime | None
    updated_at: datetime
