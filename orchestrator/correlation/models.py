"""The entity index: one row per entity (environment, kind, value) naming the incident
workflow that holds it, and until when.

Several API replicas share it, so its rows are claimed atomically under the primary key
(`service.py`): the first alert that names an entity inserts its row, every other replica
reads that row back. A row whose `expires_at` passed is free to be claimed again. Merging an
incident re-points its rows at the survivor and adds one for the merged incident's own
workflow (`kind` `merged`), so later alerts of its key land in the survivor too.

Also the merge endpoint's body and answer.
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

metadata = sa.MetaData()
entity_claims = sa.Table(
    "entity_claims",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("environment", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("workflow_id", sa.String(200), nullable=False, index=True),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("window_seconds", sa.Integer, nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


class MergeBody(BaseModel):
    """`POST /v1/incidents/{id}/merge`: merge this incident into `into`, saying why."""

    model_config = ConfigDict(extra="forbid")

    into: str = Field(min_length=1, max_length=200, description="The incident that survives.")
    reason: str = Field(min_length=1, max_length=2000, description="Why they are one (audited).")


class MergeAnswer(BaseModel):
    """What a merge did: the incident closed, the survivor, and what moved to it."""

    incident_id: str
    into: str
    alerts_moved: int
    alert_count: int = Field(description="The survivor's alerts, its own and the moved ones.")
    entities_moved: int = Field(description="Entity claims that now lead to the survivor.")
    receipts_moved: int = Field(description="Alerts whose retries now answer the survivor.")
