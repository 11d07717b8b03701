"""The key ring: rotation keeps old ciphertext readable, and a missing key or wrong associated
data is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import CryptoError
from orchestrator.security.keyring import KeyRing


def test_rotated_key_ring_still_opens_old_ciphertext(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.load_or_create(path)
    old_blob = ring.seal(b"secret prompt", aad=b"ctx")
    rotated = ring.rotated()
    rotated.save(path)
    reloaded = KeyRing.load(path)
    assert reloaded.current != ring.current
    assert reloaded.open(old_blob, aad=b"ctx") == b"secret prompt"
    assert KeyRing.key_id_of(reloaded.seal(b"x")) == reloaded.current
    assert path.stat().st_mode & 0o777 == 0o600


def test_ciphertext_without_its_key_or_with_wrong_aad_is_a_clear_error() -> None:
    blob = KeyRing.generate().seal(b"secret", aad=b"a")
    with pytest.raises(CryptoError, match="no key"):
        KeyRing.generate().open(blob, aad=b"a")
    ring = KeyRing.generate()
    with pytest.raises(CryptoError, match="authentication"):
        ring.open(ring.seal(b"secret", aad=b"a"), aad=b"b")
