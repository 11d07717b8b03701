"""The cast of principals the API tests act as, and their bearer tokens.

One cast for every API test, in-process (`tests.support.app`) or served (`tests.support.stack`):
people are named, the admin and the alert sources are named for their part.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from orchestrator.domain import Environment, Role
from orchestrator.principals.service import create_principal


@dataclass(frozen=True)
class Tokens:
    admin: str  # "ada", admin
    ann: str  # responder, prod + dev
    ben: str  # responder, prod
    devon: str  # responder, dev only
    audrey: str  # auditor, every environment
    source: str  # "detector", alert source, prod + staging
    source_dev: str  # "dev-detector", alert source, dev only

    @property
    def responder(self) -> str:
        """A responder in prod only."""
        return self.ben


def cast(engine: sa.Engine) -> Tokens:
    """Create the cast in a migrated database; return their tokens."""

    def token(name: str, role: Role, *envs: Environment) -> str:
        return create_principal(engine, name, role, envs)[1]

    return Tokens(
        admin=token("ada", Role.admin),
        ann=token("ann", Role.responder, Environment.prod, Environment.dev),
        ben=token("ben", Role.responder, Environment.prod),
        devon=token("devon", Role.responder, Environment.dev),
        audrey=token("audrey", Role.auditor),
        source=token("detector", Role.source, Environment.prod, Environment.staging),
        source_dev=token("dev-detector", Role.source, Environment.dev),
    )
