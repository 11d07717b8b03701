"""Everything a Firebreak deployment needs before its processes start, done once and idempotent:
the data directory, schema migrations, the key ring, the checkpoint signing key, and an `admin`
principal on first run.

`firebreak up` runs it in-process; a distributed deployment runs it as a one-shot init job
(`firebreak up --init-only`), so API replicas and workers never race to create keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.audit import CheckpointSigner
from orchestrator.db import make_engine, upgrade
from orchestrator.domain import Environment, Role
from orchestrator.errors import ConfigError, Conflict
from orchestrator.principals.service import create_principal
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings

ADMIN_NAME = "admin"


@dataclass(frozen=True)
class Prepared:
    """What preparation found or created; `admin_token` is set only on the run that made it."""

    data_dir: Path
    admin_token_file: Path
    admin_token: str | None


def admin_token_file(settings: Settings) -> Path:
    return settings.data_dir / "admin.token"


def prepare(settings: Settings) -> Prepared:
    """Create the data dir (owner-only), migrate, load or create the key ring and the
    checkpoint signing key, make the first admin."""
    data_dir = settings.data_dir.resolve()
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"FIREBREAK_DATA_DIR: cannot create {data_dir}: {exc.strerror}") from None
    upgrade(settings.db_url)
    KeyRing.load_or_create(settings.keyring_path)
    # Every worker signs scheduled checkpoints with this key: made here, once, so replicas that
    # mount it never each make their own (whose checkpoints no other host could verify).
    CheckpointSigner(settings.signing_key_path).public_key()
    token_file = admin_token_file(settings).resolve()
    token = None if token_file.exists() else _create_admin(settings, token_file)
    return Prepared(data_dir=data_dir, admin_token_file=token_file, admin_token=token)


def _create_admin(settings: Settings, token_file: Path) -> str | None:
    """The new admin's token; None when a shared database already has an active admin (another
    host's data dir holds its token, or it was shown once and stored elsewhere)."""
    engine = make_engine(settings.db_url)
    try:
        _principal, token = create_principal(engine, ADMIN_NAME, Role.admin, list(Environment))
    except Conflict:
        return None
    finally:
        engine.dispose()
    write_private(token_file, token + "\n")
    return token


def write_private(path: Path, text: str) -> None:
    """Write a new file only its owner can read; never overwrite (a token is shown once)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
