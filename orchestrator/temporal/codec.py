"""Payload codec that encrypts every Temporal payload with the AES-256-GCM key ring.

The Temporal server, its UI and its database then hold only ciphertext of alerts, results and
evidence. The key id travels in the payload metadata (and inside the sealed blob), so rotating
the ring never breaks decoding of running incidents as long as old keys stay in the ring.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from orchestrator.security.keyring import KeyRing

ENCODING = b"binary/firebreak-aes256gcm"
KEY_ID = "firebreak-key-id"


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": ENCODING, KEY_ID: self._ring.current.encode()},
                data=self._ring.seal(p.SerializeToString()),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out: list[Payload] = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            decoded = Payload()
            decoded.ParseFromString(self._ring.open(p.data))
            out.append(decoded)
        return out
