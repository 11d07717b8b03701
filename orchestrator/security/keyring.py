"""AES-256-GCM key ring shared by the audit store's field encryption and the Temporal codec.

A sealed blob names the key that sealed it, so adding a key (which becomes current) never
requires rewriting old ciphertext, and a blob whose key is gone fails with a clear error.

Blob layout: ``b"FB1" | len(key_id) (1 byte) | key_id | nonce (12 bytes) | ciphertext+tag``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orchestrator.errors import CryptoError

MAGIC = b"FB1"
NONCE_BYTES = 12


@dataclass(frozen=True)
class KeyRing:
    current: str
    keys: dict[str, bytes]

    @classmethod
    def generate(cls) -> KeyRing:
        key_id = _new_key_id()
        return cls(current=key_id, keys={key_id: AESGCM.generate_key(bit_length=256)})

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        try:
            doc = json.loads(path.read_text())
            keys = {kid: base64.b64decode(k) for kid, k in doc["keys"].items()}
            ring = cls(current=doc["current"], keys=keys)
        except FileNotFoundError:
            raise CryptoError(f"key ring not found: {path}") from None
        except (ValueError, KeyError, TypeError):
            raise CryptoError(f"key ring is not valid: {path}") from None
        if ring.current not in ring.keys or any(len(k) != 32 for k in keys.values()):
            raise CryptoError(f"key ring is not valid: {path}")
        return ring

    @classmethod
    def load_or_create(cls, path: Path) -> KeyRing:
        if path.exists():
            return cls.load(path)
        ring = cls.generate()
        ring.save(path)
        return ring

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "current": self.current,
            "keys": {kid: base64.b64encode(k).decode() for kid, k in self.keys.items()},
        }
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
        tmp.replace(path)

    def rotated(self) -> KeyRing:
        """A ring with one new key, made current; every old key stays for decryption."""
        key_id = _new_key_id()
        return KeyRing(current=key_id, keys={**self.keys, key_id: AESGCM.generate_key(256)})

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        kid = self.current.encode()
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext, aad)
        return MAGIC + bytes([len(kid)]) + kid + nonce + ciphertext

    def open(self, blob: bytes, aad: bytes = b"") -> bytes:
        key_id = self.key_id_of(blob)
        key = self.keys.get(key_id)
        if key is None:
            raise CryptoError(f"no key {key_id!r} in the key ring to decrypt this value")
        start = len(MAGIC) + 1 + len(key_id.encode())
        nonce, ciphertext = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise CryptoError(f"ciphertext under key {key_id!r} failed authentication") from None

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1:
            raise CryptoError("value is not a Firebreak ciphertext")
        n = blob[len(MAGIC)]
        return blob[len(MAGIC) + 1 : len(MAGIC) + 1 + n].decode()


def _new_key_id() -> str:
    return "k" + secrets.token_hex(4)
