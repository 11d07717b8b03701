"""The demo's people: a detector (`source`, with a webhook signing secret), responders `alice`
(every tier) and `bob` (prod), and an auditor.

They are created directly in the store, as an admin would with `firebreak principals`, and
their tokens are kept owner-only under `<data_dir>/demo/` so `--interactive` can print a
command that reads a token instead of printing the token. Running the demo again revokes the
previous demo principals of the same name and creates fresh ones (tokens are shown only once).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from orchestrator.db import make_engine
from orchestrator.domain import Actor, Environment, Role
from orchestrator.errors import NotFound
from orchestrator.principals.service import add_webhook_secret, create_principal, revoke_principal
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings

DEMO_ACTOR = Actor.system("demo")
SOURCE = "demo-detector"
ALICE = "alice"
BOB = "bob"
AUDITOR = "demo-auditor"

_CAST: dict[str, tuple[Role, tuple[Environment, ...]]] = {
    SOURCE: (Role.source, ()),
    ALICE: (Role.responder, (Environment.dev, Environment.staging, Environment.prod)),
    BOB: (Role.responder, (Environment.prod,)),
    AUDITOR: (Role.auditor, ()),
}


@dataclass(frozen=True)
class Cast:
    tokens: dict[str, str]
    ids: dict[str, str]
    webhook_secret: str
    token_dir: Path

    def token_file(self, name: str) -> Path:
        return self.token_dir / f"{name}.token"


def create_cast(settings: Settings) -> Cast:
    """(Re)create the demo principals and the detector's signing secret."""
    token_dir = settings.data_dir.resolve() / "demo"
    token_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    try:
        tokens, ids = {}, {}
        for name, (role, environments) in _CAST.items():
            with contextlib.suppress(NotFound):
                revoke_principal(engine, name, actor=DEMO_ACTOR)
            principal, tokens[name] = create_principal(
                engine, name, role, environments, actor=DEMO_ACTOR
            )
            ids[name] = principal.id
            _write_token(token_dir / f"{name}.token", tokens[name])
        secret = add_webhook_secret(engine, KeyRing.load(settings.keyring_path), SOURCE)
    finally:
        engine.dispose()
    return Cast(tokens=tokens, ids=ids, webhook_secret=secret, token_dir=token_dir)


def _write_token(path: Path, token: str) -> None:
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="utf-8")
