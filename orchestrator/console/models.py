"""The console's sessions table (migration `0004` creates it) and a session as pages see it.

Only the SHA-256 of a session id is stored, like API tokens: a copy of the database holds no
cookie that works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from orchestrator.principals.models import Principal

metadata = sa.MetaData()

sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "principal_id", sa.String(64), sa.ForeignKey("principals.id"), nullable=False, index=True
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


@dataclass(frozen=True)
class ConsoleSession:
    """A live session: who is signed in, and the token every form of theirs must carry."""

    principal: Principal
    csrf_token: str
    expires_at: datetime
