"""Gateway admin APIs on a loopback server, in each vendor's wire format: the LiteLLM proxy,
Kong's Admin API with key-auth and ACL groups, and OpenAI's admin API keys.

Each fake holds its keys' state and every effecting (non-GET) request it carried out, so a test
reads the gateway rather than what the provider says about it. Requests without the admin
token get the vendor's 401, unknown ids its 404.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.support.providers import Recorded, Reply

TOKEN_ENV = "CONTRACT_GATEWAY_TOKEN"
TOKEN = "sk-admin-contract-5e1f0c"
NOT_FOUND: Reply = (404, {}, {"message": "Not found"})


@dataclass
class FakeGateway:
    keys: dict[str, Any] = field(default_factory=dict)
    effects: list[str] = field(default_factory=list)

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def __call__(self, request: Recorded) -> Reply:
        if not self.authorized(request):
            return 401, {}, {"error": {"message": "Authentication Error"}}
        reply = self.serve(request)
        if request.method != "GET" and reply[0] < 300:
            self.effects.append(f"{request.method} {request.path}")
        return reply

    def add_key(self) -> str:
        """Issue a new active key; its id as the gateway's admin API names it."""
        raise NotImplementedError

    def is_active(self, key_id: str) -> bool:
        raise NotImplementedError

    def serve(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def snapshot(self) -> object:
        return copy.deepcopy((self.keys, self.effects))


class LiteLLMGateway(FakeGateway):
    """`/key/block`, `/key/unblock` and `/key/info` over hashed virtual-key tokens."""

    def add_key(self) -> str:
        token = uuid.uuid4().hex * 2
        self.keys[token] = {"blocked": False, "spend": 0.0, "last_active": None}
        return token

    def is_active(self, key_id: str) -> bool:
        return not self.keys[key_id]["blocked"]

    def serve(self, request: Recorded) -> Reply:
        key = request.json()["key"] if request.body else request.query["key"][0]
        if key not in self.keys:
            return 404, {}, {"detail": {"error": f"Key not found: {key}"}}
        if request.path in ("/key/block", "/key/unblock"):
            self.keys[key]["blocked"] = request.path == "/key/block"
            return 200, {}, {"token": key, "blocked": self.keys[key]["blocked"]}
        return 200, {}, {"key": key, "info": self.keys[key]}


class KongGateway(FakeGateway):
    """Key-auth credentials (`keys`: credential id -> consumer id) and consumer ACL groups."""

    groups: dict[str, set[str]]

    def __init__(self) -> None:
        super().__init__()
        self.groups = {}

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("kong-admin-token") == TOKEN

    def add_key(self) -> str:
        credential, consumer = f"cred-{uuid.uuid4().hex[:8]}", f"cons-{uuid.uuid4().hex[:8]}"
        self.keys[credential] = consumer
        self.groups[consumer] = {"support"}
        return credential

    def is_active(self, key_id: str) -> bool:
        return "firebreak-revoked" not in self.groups[self.keys[key_id]]

    def snapshot(self) -> object:
        return copy.deepcopy((self.keys, self.groups, self.effects))

    def serve(self, request: Recorded) -> Reply:
        parts = request.path.strip("/").split("/")
        if parts[0] == "key-auths":
            if parts[1] not in self.keys:
                return NOT_FOUND
            return 200, {}, {"id": parts[1], "key": "raw", "consumer": {"id": self.keys[parts[1]]}}
        consumer = self.groups.get(parts[1])
        if consumer is None:
            return NOT_FOUND
        if request.method == "GET":
            return 200, {}, {"data": [{"group": g} for g in sorted(consumer)], "next": None}
        if request.method == "POST":
            group = request.json()["group"]
            if group in consumer:
                return 409, {}, {"message": "UNIQUE violation detected"}
            consumer.add(group)
            return 201, {}, {"group": group, "consumer": {"id": parts[1]}}
        if parts[3] not in consumer:
            return NOT_FOUND
        consumer.discard(parts[3])
        return 204, {}, b""


class OpenAIGateway(FakeGateway):
    """`GET` and `DELETE /v1/organization/admin_api_keys/{id}`: a revoked key is gone."""

    def add_key(self) -> str:
        key_id = f"key_{uuid.uuid4().hex[:12]}"
        self.keys[key_id] = {"id": key_id, "name": "ci", "redacted_value": "sk-admin...xyz"}
        return key_id

    def is_active(self, key_id: str) -> bool:
        return key_id in self.keys

    def serve(self, request: Recorded) -> Reply:
        key_id = request.path.rsplit("/", 1)[-1]
        if key_id not in self.keys:
            return 404, {}, {"error": {"message": "No such admin key"}}
        if request.method == "DELETE":
            del self.keys[key_id]
            return 200, {}, {"object": "organization.admin_api_key.deleted", "id": key_id}
        return 200, {}, self.keys[key_id]
