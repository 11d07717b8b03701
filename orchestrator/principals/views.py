"""`/v1/principals`: admins manage principals, tokens and webhook secrets over HTTP.

The same operations exist as `firebreak principals` (direct database access) for the first
admin and for break-glass use.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from orchestrator.api.auth import Permission, Principal, require
from orchestrator.api.deps import get_engine, get_store, problem_responses
from orchestrator.audit import EventStore
from orchestrator.domain import Actor, Environment, Role
from orchestrator.errors import CryptoError
from orchestrator.principals import service
from orchestrator.principals.models import PrincipalInfo

router = APIRouter(prefix="/v1/principals", tags=["principals"])
Admin = Annotated[Principal, Depends(require(Permission.principals_manage))]
Engine = Annotated[sa.Engine, Depends(get_engine)]
NameOrId = Annotated[str, Path(min_length=1, max_length=200)]


class NewPrincipal(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    environments: list[Environment] = Field(
        default_factory=list, description="Environment tiers in scope; empty means all."
    )


class CreatedPrincipal(BaseModel):
    principal: Principal
    token: str = Field(description="Shown once; only its hash is stored.")


class CreatedSecret(BaseModel):
    secret: str = Field(description="Standard Webhooks secret (whsec_...), shown once.")


class Revoked(BaseModel):
    id: str
    name: str
    revoked: bool = True


@router.get("", responses=problem_responses(401, 403))
async def list_principals(_: Admin, engine: Engine) -> list[PrincipalInfo]:
    return await anyio.to_thread.run_sync(service.list_principals, engine)


@router.post("", status_code=201, responses=problem_responses(401, 403, 409, 422))
async def create_principal(body: NewPrincipal, admin: Admin, engine: Engine) -> CreatedPrincipal:
    call = partial(
        service.create_principal,
        engine,
        body.name,
        body.role,
        body.environments,
        actor=Actor(id=admin.id, role=admin.role.value),
    )
    principal, token = await anyio.to_thread.run_sync(call)
    return CreatedPrincipal(principal=principal, token=token)


@router.delete("/{name_or_id}", responses=problem_responses(401, 403, 404, 422))
async def revoke_principal(name_or_id: NameOrId, admin: Admin, engine: Engine) -> Revoked:
    call = partial(
        service.revoke_principal,
        engine,
        name_or_id,
        actor=Actor(id=admin.id, role=admin.role.value),
    )
    principal = await anyio.to_thread.run_sync(call)
    return Revoked(id=principal.id, name=principal.name)


@router.post(
    "/{name_or_id}/webhook-secrets",
    status_code=201,
    responses=problem_responses(401, 403, 404, 422),
)
async def add_webhook_secret(
    name_or_id: NameOrId, _: Admin, store: Annotated[EventStore, Depends(get_store)]
) -> CreatedSecret:
    """A new signing secret; the previous one keeps verifying until the next rotation."""
    if store.keyring is None:
        raise CryptoError("the event store has no key ring to seal webhook secrets with")
    secret = await anyio.to_thread.run_sync(
        service.add_webhook_secret, store.engine, store.keyring, name_or_id
    )
    return CreatedSecret(secret=secret)
