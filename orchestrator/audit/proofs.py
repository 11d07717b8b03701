"""The proof documents an auditor receives and checks offline: the JSON of `firebreak audit
prove` and of ``/v1/audit/proofs/*``.

Each document carries everything its check needs (sizes, the event's chain hash, the path, the
roots), hashes in standard base64 as C2SP checkpoints carry a root, except the event's chain
hash, which stays lowercase hex as it is in the ledger and its exports so it can be matched
with the event row. `verify` re-runs RFC 9162's algorithm (`merkle`) with no database; a root
from a signed checkpoint, when given, must be the one the proof ends at. docs/audit-ledger.md
states the format for auditors who write their own verifier.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    WithJsonSchema,
)

from orchestrator.audit import merkle
from orchestrator.audit.merkle import InvalidProof

INCLUSION_FORMAT: Final = "firebreak.audit.inclusion-proof.v1"
CONSISTENCY_FORMAT: Final = "firebreak.audit.consistency-proof.v1"
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


def encode_hash(value: bytes) -> str:
    """A hash as standard base64 with padding (44 characters for SHA-256)."""
    return base64.b64encode(value).decode("ascii")


def decode_hash(text: str) -> bytes:
    """A standard-base64 SHA-256 hash; ValueError naming the problem otherwise."""
    try:
        value = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("a hash must be standard base64") from None
    if len(value) != merkle.HASH_SIZE:
        raise ValueError(f"a hash must be {merkle.HASH_SIZE} bytes, this one is {len(value)}")
    return value


def _to_hash(value: Any) -> Any:
    return decode_hash(value) if isinstance(value, str) else value


Hash = Annotated[
    bytes,
    BeforeValidator(_to_hash),
    PlainSerializer(encode_hash, return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64", "minLength": 44}),
]


class InclusionProof(BaseModel):
    """Proof that the event `event_id`, at `position`, is leaf `leaf_index` of the ledger's
    Merkle tree of `tree_size` events, whose root is `root`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["firebreak.audit.inclusion-proof.v1"] = INCLUSION_FORMAT
    event_id: str
    position: int = Field(ge=1, description="The event's position in the log (1-based).")
    leaf_index: int = Field(ge=0, description="position - 1: the event's leaf in the tree.")
    tree_size: int = Field(ge=1, description="How many events the tree (and the root) covers.")
    event_hash: str = Field(description="The event's chain hash, lowercase hex, as stored.")
    leaf_hash: Hash = Field(description="SHA-256(0x00 || the 32 bytes of event_hash).")
    path: list[Hash] = Field(description="RFC 9162 inclusion path, nearest the leaf first.")
    root: Hash = Field(description="The tree's root (RFC 9162 MTH) at tree_size.")

    def verify(self, trusted_root: bytes | None = None) -> None:
        """Raise InvalidProof unless the proof holds, and ends at `trusted_root` if given."""
        if self.leaf_index != self.position - 1:
            raise InvalidProof(f"leaf_index {self.leaf_index} is not position - 1")
        if not _HEX_HASH.fullmatch(self.event_hash):
            raise InvalidProof("event_hash is not 64 lowercase hex digits")
        if merkle.leaf_hash(bytes.fromhex(self.event_hash)) != self.leaf_hash:
            raise InvalidProof("leaf_hash is not the leaf hash of event_hash")
        merkle.verify_inclusion(
            self.leaf_index, self.tree_size, self.leaf_hash, self.path, self.root
        )
        if trusted_root is not None and trusted_root != self.root:
            raise InvalidProof("the proof's root is not the trusted root")


class ConsistencyProof(BaseModel):
    """Proof that the ledger's tree of `new_size` events (root `new_root`) extends its tree of
    `old_size` events (root `old_root`): the first `old_size` events are unchanged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["firebreak.audit.consistency-proof.v1"] = CONSISTENCY_FORMAT
    old_size: int = Field(ge=0)
    new_size: int = Field(ge=0)
    path: list[Hash] = Field(description="RFC 9162 consistency proof, in its order.")
    old_root: Hash
    new_root: Hash

    def verify(
        self, trusted_old_root: bytes | None = None, trusted_new_root: bytes | None = None
    ) -> None:
        """Raise InvalidProof unless the proof holds, with the trusted roots if given."""
        merkle.verify_consistency(
            self.old_size, self.new_size, self.old_root, self.new_root, self.path
        )
        if trusted_old_root is not None and trusted_old_root != self.old_root:
            raise InvalidProof("the proof's old root is not the trusted old root")
        if trusted_new_root is not None and trusted_new_root != self.new_root:
            raise InvalidProof("the proof's new root is not the trusted new root")


_PROOF: TypeAdapter[InclusionProof | ConsistencyProof] = TypeAdapter(
    Annotated[InclusionProof | ConsistencyProof, Field(discriminator="format")]
)


def parse_proof(text: str | bytes) -> InclusionProof | ConsistencyProof:
    """A proof document from its JSON, told apart by its `format`; pydantic's ValidationError
    names what is wrong."""
    return _PROOF.validate_json(text)
