"""C2SP signed notes (c2sp.org/signed-note) carrying tlog checkpoints (c2sp.org/tlog-checkpoint).

The format standard transparency-log tooling reads (Go's golang.org/x/mod/sumdb/note, the
transparency-dev witnesses, sigsum, …), so a checkpoint Firebreak publishes can be checked
without Firebreak. A note is::

    <text: one or more lines, each ending in "\\n">
    "\\n"
    "— <key name> <base64(4-byte key hash || 64-byte Ed25519 signature over the text)>\\n" …

A checkpoint's text is its origin line, the tree size in decimal, the base64 Merkle root, then
extension lines. The key hash is the first 4 bytes of SHA-256(key name || "\\n" || 0x01 ||
32-byte public key), big-endian; a verifier key is written
``<name>+<8 hex key hash>+<base64(0x01 || public key)>``. Parsing is strict and every refusal
says what is wrong, because a note that parses loosely is one an attacker can bend.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from orchestrator.audit.signing import signature_valid
from orchestrator.errors import InvalidInput

ED25519 = 0x01
"""The signed-note signature type of Ed25519."""
SIGNATURE_PREFIX = "— "
"""U+2014 EM DASH and a space open every signature line."""
MAX_SIGNATURES = 100
HASH_BYTES = 32
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_HINT = re.compile(r"[0-9a-f]{8}")


class NoteError(InvalidInput):
    """A note, checkpoint or verifier key that does not follow the format."""


def _valid_name(name: str) -> bool:
    """Key names: non-empty, no whitespace, no "+" (it separates a verifier key's fields)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, key: Ed25519PublicKey) -> int:
    """The 4-byte key hash a signature line starts with: which key of that name signed."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + raw_public_key(key))
    return int.from_bytes(digest.digest()[:4], "big")


def hint_text(hint: int) -> str:
    return f"{hint:08x}"


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key: what an auditor trusts to have signed a note."""

    name: str
    key: Ed25519PublicKey

    @property
    def hint(self) -> int:
        return key_hash(self.name, self.key)

    def text(self) -> str:
        """``<name>+<hex hash>+<base64(0x01 || key)>``, as `note.NewVerifier` reads it."""
        blob = base64.b64encode(bytes([ED25519]) + raw_public_key(self.key)).decode()
        return f"{self.name}+{hint_text(self.hint)}+{blob}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """A verifier key text; its hash must match its name and key."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("verifier key is not <name>+<hash>+<key>")
        name, hint, blob = parts
        if not _valid_name(name):
            raise NoteError("verifier key has an invalid name")
        if not _HINT.fullmatch(hint):
            raise NoteError("verifier key hash is not 8 lowercase hex digits")
        raw = _b64(blob, "verifier key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
        vkey = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        if vkey.hint != int(hint, 16):
            raise NoteError("verifier key hash does not match its name and key")
        return vkey


@dataclass(frozen=True)
class NoteSignature:
    name: str
    hint: int
    signature: bytes


@dataclass(frozen=True)
class Note:
    """A parsed, not yet verified note: its text and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def verified_by(self, trusted: Sequence[VerifierKey]) -> list[VerifierKey]:
        """The trusted keys with a valid signature on this note (signatures by unknown keys
        are ignored, as the spec asks)."""
        found = []
        message = self.text.encode()
        for sig in self.signatures:
            for vkey in trusted:
                if (vkey.name, vkey.hint) != (sig.name, sig.hint):
                    continue
                if signature_valid(vkey.key, sig.signature, message) and vkey not in found:
                    found.append(vkey)
        return found


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F for c in text):
        raise NoteError("note text holds a control character")


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """`text` with one signature line by `key` under `name`."""
    _check_text(text)
    if "\n\n" in text:
        raise NoteError("note text must not contain a blank line")
    if not _valid_name(name):
        raise NoteError(f"invalid key name {name!r}")
    hint = key_hash(name, key.public_key()).to_bytes(4, "big")
    blob = base64.b64encode(hint + key.sign(text.encode())).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{name} {blob}\n"


def parse_note(data: bytes | str) -> Note:
    """Split a note into text and signature lines; NoteError names what does not fit."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not UTF-8") from None
    split = data.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = data[: split + 1], data[split + 2 :]
    _check_text(text)
    if not block.endswith("\n"):
        raise NoteError("note's last signature line must end with a newline")
    signatures = []
    for number, line in enumerate(block[:-1].split("\n"), 1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"signature line {number} does not start with '— '")
        fields = line[len(SIGNATURE_PREFIX) :].split(" ")
        if len(fields) != 2 or not _valid_name(fields[0]):
            raise NoteError(f"signature line {number} is not '— <name> <signature>'")
        raw = _b64(fields[1], f"signature line {number}")
        if len(raw) < 5:
            raise NoteError(f"signature line {number} is too short")
        signatures.append(NoteSignature(fields[0], int.from_bytes(raw[:4], "big"), raw[4:]))
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text=text, signatures=tuple(signatures))


@dataclass(frozen=True)
class CheckpointBody:
    """The text of a tlog checkpoint: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, text: str) -> CheckpointBody:
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint needs an origin, a tree size and a root hash line")
        origin, size, root, *extensions = lines
        if not origin or origin != origin.strip():
            raise NoteError("checkpoint origin line is empty or padded")
        if not _SIZE.fullmatch(size):
            raise NoteError("checkpoint tree size is not a decimal number")
        root_hash = _b64(root, "checkpoint root hash")
        if len(root_hash) != HASH_BYTES:
            raise NoteError("checkpoint root hash is not 32 bytes")
        if any(not line for line in extensions):
            raise NoteError("checkpoint has an empty extension line")
        return cls(origin, int(size), root_hash, tuple(extensions))

    def extension(self, key: str) -> str | None:
        """The value of the extension line ``<key> <value>``, None when absent."""
        for line in self.extensions:
            name, _, value = line.partition(" ")
            if name == key:
                return value
        return None
