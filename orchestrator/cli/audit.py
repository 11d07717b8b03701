"""`firebreak audit` (verify, checkpoint, public-key, keys, query, export, forward, prove,
check-proof) and `firebreak keys`.

`audit verify` exits 0 when the log is intact, 1 when it was tampered with, and 2 when it could
not be checked at all, so scripts can tell "tampered" from "database unreachable";
`audit check-proof` likewise: 0 valid, 1 invalid (with the reason), 2 unreadable.
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from activities.errors import ActivityError
from activities.witnesses import EACH, LATEST, read_s3_witness
from orchestrator import db
from orchestrator.audit import (
    Checkpoint,
    CheckpointSigner,
    ConsistencyProof,
    EventStore,
    ExportFormat,
    InclusionProof,
    InvalidProof,
    NoteError,
    Verdict,
    VerifierKey,
    checkpoint_from_note,
    decode_hash,
    encode_hash,
    load_public_key,
    open_event_store,
    parse_proof,
    signed_root,
)
from orchestrator.cli.evidence import cli_actor
from orchestrator.cli.forward import forward_command
from orchestrator.cli.progress import Progress, wanted
from orchestrator.errors import FirebreakError, InvalidInput
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import load_settings

audit_app = typer.Typer(help="Query, export and verify the audit ledger.", no_args_is_help=True)
keys_app = typer.Typer(help="Field-encryption key ring.", no_args_is_help=True)
audit_keys_app = typer.Typer(help="Checkpoint signing keys.", no_args_is_help=True)
audit_app.add_typer(audit_keys_app, name="keys")

StreamOpt = Annotated[str | None, typer.Option("--stream", help="Stream (incident) id.")]
TypeOpt = Annotated[list[str] | None, typer.Option("--type", help="Event type; repeatable.")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Actor (principal) id.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="ISO 8601, inclusive.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="ISO 8601, exclusive.")]
AfterOpt = Annotated[int, typer.Option("--after", help="Cursor: position to start after.")]
KEPT_FETCH_SECONDS = 10.0
audit_app.command("forward")(forward_command)


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option}: not an ISO 8601 date/time: {value!r}", option) from None


def _filters(
    stream: str | None,
    types: list[str] | None,
    actor: str | None,
    since: str | None,
    until: str | None,
    after: int,
) -> dict[str, Any]:
    return {
        "stream": stream,
        "types": types or None,
        "actor": actor,
        "since": _moment(since, "--since"),
        "until": _moment(until, "--until"),
        "after_position": after,
    }


PublicKeyOption = Annotated[
    Path | None, typer.Option("--public-key", help="Trusted checkpoint public key (PEM).")
]
VkeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--vkey",
        help="Trusted verifier key `<name>+<hash>+<key>` (as `audit keys list` prints);"
        " repeatable, e.g. one per rotated key.",
    ),
]


ProgressOpt = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Print how far it is on stderr (at most once a second). Default: only when stderr"
        " is a terminal.",
    ),
]


def _trusted_keys(
    public_key: Path | None, vkey: list[str] | None
) -> list[Ed25519PublicKey | VerifierKey]:
    """The keys an auditor said to trust (never the database's key table)."""
    trusted: list[Ed25519PublicKey | VerifierKey] = []
    if public_key:
        trusted.append(load_public_key(_read(public_key)))
    return trusted + [VerifierKey.parse(text) for text in vkey or []]


@audit_app.command("verify")
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    public_key: PublicKeyOption = None,
    vkey: VkeyOption = None,
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--checkpoint",
            help="Checkpoints you kept outside the database: a file or an http(s) URL holding "
            "a signed checkpoint note, one checkpoint as JSON (`audit checkpoint --json`), a "
            "JSON list (GET /v1/audit/checkpoints) or JSON Lines; or a witness directory or "
            "s3://bucket/prefix (its `checkpoint` and `checkpoints/*` notes, read with the "
            "FIREBREAK_S3_* settings the witness uses); repeatable.",
        ),
    ] = None,
    progress: ProgressOpt = None,
) -> None:
    """Re-check the hash chain and signed checkpoints (exit 0 intact, 1 tampered, 2 error,
    3 unverified).

    With --checkpoint, each kept checkpoint must still match the chain, carry a valid signature
    by a trusted key and be stored: a cut tail, a rewritten head or deleted checkpoints are
    named. Trusted keys are --public-key and --vkey, else this host's signing key files. A
    checkpoint signed only by keys you did not trust anchors nothing but is not tampering:
    verify says UNVERIFIED, names the keys, and exits 3.
    """
    try:
        trusted = _trusted_keys(public_key, vkey)
        kept = [point for source in checkpoint or [] for point in kept_checkpoints(source)]
        ticker = Progress("verified") if wanted(progress) else None
        report = _store().verify(trusted or None, kept, progress=ticker)
    except FirebreakError as exc:
        typer.echo(f"firebreak: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    code = VERIFY_EXIT[report.verdict]
    if as_json:
        typer.echo(report.model_dump_json())
        raise typer.Exit(code)
    if report.verdict is Verdict.tampered:
        typer.echo(f"TAMPERED at position {report.first_bad_position}: {report.problem}")
    else:
        kept_note = f", {report.kept_checked} kept checkpoints" if report.kept_checked else ""
        label = "intact" if report.ok else "UNVERIFIED: the chain is intact"
        typer.echo(
            f"{label}: {report.checked} events, head {report.head_position} {report.head_hash},"
            f" {report.checkpoints_checked} signed checkpoints{kept_note}"
        )
        if not report.ok:
            typer.echo(f"  {report.problem}")
    for use in report.keys:
        typer.echo(
            f"  signed by {use.key}: {use.checkpoints} checkpoints,"
            f" positions {use.first_position}..{use.last_position}"
        )
    for point in report.unverified:
        source = "kept" if point.kept else "stored"
        typer.echo(
            f"  not trusted: {source} checkpoint at {point.position},"
            f" signed by {', '.join(point.signed_by) or 'no key'}"
        )
    raise typer.Exit(code)


VERIFY_EXIT = {Verdict.intact: 0, Verdict.tampered: 1, Verdict.unverified: 3}
"""`audit verify`'s exit code per verdict; 2 is any error before a verdict."""


def _store() -> EventStore:
    """The configured store, once its database is there and migrated (nothing is created)."""
    settings = load_settings()
    db.require_schema(settings.db_url)
    return open_event_store(settings)


def kept_checkpoints(source: str) -> list[Checkpoint]:
    """The checkpoints in a file, a witness directory, an S3 witness's bucket or at an
    http(s) URL; InvalidInput naming what is wrong."""
    if source.startswith("s3://"):
        return _s3_kept(source)
    if source.startswith(("http://", "https://")):
        try:
            response = httpx.get(source, timeout=KEPT_FETCH_SECONDS, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            raise InvalidInput(f"--checkpoint {source}: cannot fetch: HTTP {status}") from None
        except httpx.HTTPError as exc:
            raise InvalidInput(
                f"--checkpoint {source}: cannot fetch: {type(exc).__name__}"
            ) from None
        return _parse_kept(source, response.text)
    path = Path(source)
    if path.is_dir():
        files = [path / LATEST, *sorted((path / EACH).glob("*"))]
        found = [
            point
            for file in files
            if file.is_file()
            for point in _parse_kept(str(file), _read(file).decode("utf-8", errors="replace"))
        ]
        if not found:
            raise InvalidInput(f"--checkpoint {source}: the directory holds no checkpoint")
        return found
    return _parse_kept(source, _read(path).decode("utf-8", errors="replace"))


def _s3_kept(source: str) -> list[Checkpoint]:
    """Every note the S3 witness at `s3://bucket/prefix` wrote, read with the configuration
    the witness publishes with (FIREBREAK_S3_ENDPOINT, _REGION and the credential variables
    FIREBREAK_S3_ACCESS_KEY_ENV / _SECRET_KEY_ENV name)."""
    parts = urlsplit(source)
    if not parts.hostname or parts.query or parts.fragment or "@" in parts.netloc:
        raise InvalidInput(f"--checkpoint {source}: not s3://bucket/prefix")
    try:
        notes = asyncio.run(read_s3_witness(load_settings(), source))
    except ActivityError as exc:
        raise InvalidInput(f"--checkpoint {source}: {exc.message}") from None
    return [point for url, text in notes for point in _parse_kept(url, text)]


def _parse_kept(source: str, text: str) -> list[Checkpoint]:
    """A signed note, or checkpoints as JSON / JSON Lines."""
    if not text.lstrip().startswith(("{", "[")):
        try:
            return [checkpoint_from_note(text)]
        except NoteError as exc:
            raise InvalidInput(
                f"--checkpoint {source}: not JSON or JSON Lines, nor a signed note: {exc.detail}"
            ) from None
    try:
        parsed: Any = json.loads(text)
        entries = parsed if isinstance(parsed, list) else [parsed]
    except json.JSONDecodeError:
        try:
            entries = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise InvalidInput(f"--checkpoint {source}: not JSON or JSON Lines") from None
    if not entries:
        raise InvalidInput(f"--checkpoint {source}: holds no checkpoint")
    points = []
    for number, entry in enumerate(entries, 1):
        try:
            points.append(Checkpoint.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            raise InvalidInput(
                f"--checkpoint {source}: checkpoint {number}: {where}: {first['msg']}"
            ) from None
    return points


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


@audit_app.command("checkpoint")
def checkpoint(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the checkpoint as JSON, to keep elsewhere.")
    ] = False,
    note: Annotated[
        bool, typer.Option("--note", help="Print the signed C2SP checkpoint note.")
    ] = False,
) -> None:
    """Sign the current chain head (a C2SP checkpoint note, Ed25519) and store it."""
    point = _store().checkpoint()
    if note:
        typer.echo(point.note or "", nl=False)
        return
    if as_json:
        typer.echo(point.model_dump_json())
        return
    typer.echo(
        f"checkpoint at position {point.position} head {point.head_hash}"
        f" key {point.key_fingerprint[:16]}"
    )


@audit_app.command("public-key")
def public_key() -> None:
    """Print the active checkpoint public key (PEM) for auditors; creates the key if needed."""
    typer.echo(CheckpointSigner(load_settings().signing_key_path).public_key_pem(), nl=False)


@audit_keys_app.command("rotate")
def rotate_signing_key() -> None:
    """Retire the active checkpoint signing key and start a new one (recorded as an event);
    checkpoints signed before keep verifying under the retired key."""
    added = _store().rotate_signing_key(cli_actor())
    typer.echo(f"active checkpoint key: {added.verifier_key}")


@audit_keys_app.command("list")
def list_signing_keys(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list, with PEM keys.")] = False,
) -> None:
    """The checkpoint signing keys that have signed, oldest first, for auditors to keep."""
    listed = _store().signing_keys()
    if as_json:
        typer.echo(json.dumps([k.model_dump(mode="json") for k in listed]))
        return
    for key in listed:
        state = f"retired {key.retired_at:%Y-%m-%dT%H:%M:%SZ}" if key.retired_at else "active"
        typer.echo(f"{key.verifier_key}\t{key.created_at:%Y-%m-%dT%H:%M:%SZ}\t{state}")


@audit_app.command("query")
def query(
    stream: StreamOpt = None,
    types: TypeOpt = None,
    actor: ActorOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    after: AfterOpt = 0,
    limit: Annotated[int, typer.Option("--limit", help="Page size (1-1000).")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List events matching the filters, oldest first; prints the next cursor when there is one."""
    filters = _filters(stream, types, actor, since, until, after)  # the user's input first
    page = _store().query(**filters, limit=limit)
    for event in page.events:
        if as_json:
            typer.echo(event.model_dump_json())
        else:
            typer.echo(
                f"{event.position}\t{event.occurred_at:%Y-%m-%dT%H:%M:%SZ}\t{event.stream_id}"
                f"\t{event.type}\t{event.actor.id}"
            )
    if page.next_cursor is not None:
        typer.echo(f"more: --after {page.next_cursor}", err=True)


@audit_app.command("export")
def export(
    out: Annotated[str, typer.Option("--out", help="File to write, or - for stdout.")],
    stream: StreamOpt = None,
    types: TypeOpt = None,
    actor: ActorOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    after: AfterOpt = 0,
    format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="jsonl: the ledger events, sensitive fields decrypted (default); ocsf: one "
            "OCSF 1.5.0 record per event, for a SIEM (docs/ocsf.md); chain: each event's "
            "hashed fields exactly as stored, sealed fields as ciphertext, to re-check the "
            "chain and checkpoints with your own tools (docs/audit-ledger.md).",
        ),
    ] = ExportFormat.jsonl,
    progress: ProgressOpt = None,
) -> None:
    """Export matching events as JSON Lines, streamed page by page."""
    filters = _filters(stream, types, actor, since, until, after)
    store = _store()
    ticker = Progress("exported") if wanted(progress) else None
    with ExitStack() as stack:
        target: IO[str] = sys.stdout if out == "-" else stack.enter_context(_open(Path(out)))
        count = store.export(target, format=format, progress=ticker, **filters)
    typer.echo(f"exported {count} events", err=True)


def _open(path: Path) -> IO[str]:
    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None


@audit_app.command("prove")
def prove(
    event_id: Annotated[
        str | None, typer.Argument(help="The event to prove (omit with --consistency).")
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(
            "--size",
            help="Tree size to prove against (default: the latest signed checkpoint's, else "
            "the head).",
        ),
    ] = None,
    consistency: Annotated[
        tuple[int, int] | None,
        typer.Option(
            "--consistency",
            metavar="OLD NEW",
            help="Prove instead that the tree of NEW events extends the tree of OLD events.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the proof as JSON, for check-proof.")
    ] = False,
) -> None:
    """Print a Merkle inclusion proof for one event, or a consistency proof between two sizes.

    Both are checked offline by `firebreak audit check-proof` or by the algorithm in
    docs/audit-ledger.md.
    """
    if consistency is not None and None not in consistency:
        if event_id is not None or size is not None:
            raise InvalidInput("--consistency takes no EVENT_ID and no --size", "consistency")
        old, new = consistency
        proof: InclusionProof | ConsistencyProof = _store().consistency_proof(old, new)
    elif event_id is None:
        raise InvalidInput("name an EVENT_ID, or --consistency OLD NEW", "event_id")
    else:
        proof = _store().inclusion_proof(event_id, size)
    if as_json:
        typer.echo(proof.model_dump_json())
        return
    if isinstance(proof, InclusionProof):
        typer.echo(
            f"event {proof.event_id} at position {proof.position} is leaf {proof.leaf_index}"
            f" of the tree of {proof.tree_size} events"
        )
        typer.echo(f"root: {encode_hash(proof.root)}")
    else:
        typer.echo(f"the tree of {proof.new_size} events extends the tree of {proof.old_size}")
        typer.echo(f"old root: {encode_hash(proof.old_root)}")
        typer.echo(f"new root: {encode_hash(proof.new_root)}")
    for number, node in enumerate(proof.path):
        typer.echo(f"path[{number}]: {encode_hash(node)}")


@audit_app.command("check-proof")
def check_proof(
    file: Annotated[
        Path, typer.Argument(help="A proof as `audit prove --json` prints it; - for stdin.")
    ],
    root: Annotated[
        str | None,
        typer.Option(
            "--root",
            help="Trusted root (base64) from a signed checkpoint: the tree's for an inclusion "
            "proof, the new tree's for a consistency proof.",
        ),
    ] = None,
    old_root: Annotated[
        str | None,
        typer.Option("--old-root", help="Trusted old root (base64) for a consistency proof."),
    ] = None,
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--checkpoint",
            help="Signed checkpoints you kept (a note file, a witness directory, an "
            "s3://bucket/prefix witness or an http(s) URL, as `audit verify` takes them): the "
            "root comes from the one of the proof's tree size, once its signature holds; "
            "repeatable.",
        ),
    ] = None,
    public_key: PublicKeyOption = None,
    vkey: VkeyOption = None,
) -> None:
    """Check a Merkle proof offline, with no database (exit 0 valid, 1 invalid, 2 unreadable).

    The trusted root is --root, or the root of a kept --checkpoint of the proof's tree size
    whose signature a --public-key or --vkey verifies. Without either, the proof is checked
    against the root it carries, which only shows it is well formed.
    """
    try:
        text = sys.stdin.read() if str(file) == "-" else _read(file).decode("utf-8", "replace")
        proof = _parse_proof(text, str(file))
        trusted = _trusted_root(root, "--root")
        trusted_old = _trusted_root(old_root, "--old-root")
        if isinstance(proof, InclusionProof) and trusted_old is not None:
            raise InvalidInput("--old-root is for consistency proofs", "old_root")
        kept = [point for source in checkpoint or [] for point in kept_checkpoints(source)]
        keys = _trusted_keys(public_key, vkey)
        if kept and not keys:
            raise InvalidInput("--checkpoint needs the key that signed it: --public-key or --vkey")
    except FirebreakError as exc:
        typer.echo(f"firebreak: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    try:
        if kept:
            if isinstance(proof, InclusionProof):
                trusted = trusted or _kept_root(kept, proof.tree_size, keys)
            else:
                trusted = trusted or _kept_root(kept, proof.new_size, keys)
                trusted_old = trusted_old or _kept_root(kept, proof.old_size, keys)
        if isinstance(proof, InclusionProof):
            proof.verify(trusted)
            what = (
                f"event {proof.event_id} (position {proof.position}) is in the tree of"
                f" {proof.tree_size} events"
            )
        else:
            proof.verify(trusted_old, trusted)
            what = f"the tree of {proof.new_size} events extends the tree of {proof.old_size}"
    except InvalidProof as exc:
        typer.echo(f"INVALID: {exc}")
        raise typer.Exit(1) from None
    checked = "the trusted root" if trusted is not None else "the root in the proof (untrusted)"
    typer.echo(f"valid: {what}; checked against {checked}")


def _parse_proof(text: str, source: str) -> InclusionProof | ConsistencyProof:
    """The proof document in `text`; InvalidInput naming what is wrong."""
    try:
        return parse_proof(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "proof"
        raise InvalidInput(f"{source}: not a valid proof: {where}: {first['msg']}") from None


def _kept_root(
    kept: list[Checkpoint], size: int, keys: list[Ed25519PublicKey | VerifierKey]
) -> bytes:
    """The signed root of the kept checkpoint of tree size `size`; InvalidProof without one."""
    for point in kept:
        if point.position == size:
            return signed_root(point, keys)
    sizes = ", ".join(str(p.position) for p in kept)
    raise InvalidProof(f"no kept checkpoint has tree size {size} (kept: {sizes})")


def _trusted_root(value: str | None, option: str) -> bytes | None:
    if value is None:
        return None
    try:
        return decode_hash(value)
    except ValueError as exc:
        raise InvalidInput(f"{option}: {exc}", option) from None


@keys_app.command("rotate")
def rotate() -> None:
    """Add a new field-encryption key and make it current; old keys stay for reading."""
    path = load_settings().keyring_path
    ring = KeyRing.load_or_create(path).rotated()
    ring.save(path)
    typer.echo(f"current key: {ring.current} ({len(ring.keys)} keys in {path})")
