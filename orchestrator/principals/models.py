"""Principals, their permissions, and the tables migration `0002` creates for them.

The role → permission table is the single place RBAC is decided; endpoints only name the
permission they need, so the matrix test can check every route against this table.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.domain import Environment, Role
from orchestrator.timeutil import as_utc

TOKEN_PREFIX = "fbk_"  # noqa: S105 - a public prefix that makes leaked tokens greppable


class Permission(StrEnum):
    alerts_write = "alerts:write"
    incidents_read = "incidents:read"
    incidents_decide = "incidents:decide"
    audit_read = "audit:read"
    principals_manage = "principals:manage"
    suppressions_read = "suppressions:read"
    suppressions_manage = "suppressions:manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.responder: frozenset(
        {
            Permission.incidents_read,
            Permission.incidents_decide,
            Permission.suppressions_read,
            Permission.suppressions_manage,
        }
    ),
    Role.auditor: frozenset(
        {Permission.incidents_read, Permission.audit_read, Permission.suppressions_read}
    ),
    Role.source: frozenset({Permission.alerts_write}),
}


class Principal(BaseModel):
    """An authenticated caller, as endpoints see it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    role: Role
    environments: frozenset[Environment]

    def has(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Principal:
        """From a row holding the `principals` table's columns."""
        return cls(
            id=row.id,
            name=row.name,
            role=Role(row.role),
            environments=frozenset(Environment(e) for e in row.environments),
        )


class PrincipalInfo(BaseModel):
    """A principal as listed by admin tooling; never includes the token or its hash."""

    id: str
    name: str
    role: Role
    environments: list[Environment]
    token_prefix: str = Field(description="The first characters of the token, to recognise it.")
    created_at: datetime
    revoked_at: datetime | None = None
    webhook_secrets: int = Field(0, description="Active webhook signing secrets.")

    @field_validator("created_at", "revoked_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)


metadata = sa.MetaData()

principals = sa.Table(
    "principals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("environments", sa.JSON, nullable=False),
    sa.Column("token_prefix", sa.String(32), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("principal_id", sa.String(64), sa.ForeignKey("principals.id"), nullable=False),
    sa.Column("sealed_secret", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("retired_at", sa.DateTime(timezone=True)),
)
