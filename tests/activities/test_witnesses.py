"""Publishing checkpoint notes to witnesses, each against the real thing: a directory, a moto
S3 server that checks SigV4 signatures, an HTTP endpoint on loopback. A witness that fails is
named (no credentials), counted by kind and outcome, and the checkpoint stays stored; retrying
publishes it. What the S3 witness wrote reads back, and what stops reading it is named."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.errors import ActivityError, ProviderError, ResourceNotFound
from activities.witnesses import (
    CheckpointActivities,
    DirectoryWitness,
    HttpWitness,
    read_s3_witness,
    witnesses_from,
)
from orchestrator.audit import CheckpointSigner, EventStore, checkpoint_from_note
from orchestrator.db import make_engine, upgrade
from orchestrator.errors import ConfigError
from orchestrator.settings import Settings
from orchestrator.telemetry.instruments import process_registry
from tests.support.events import new_event
from tests.support.providers import Loopback, S3Endpoint


@pytest.fixture
def store(migrated_sqlite_url: str, tmp_path: Path) -> EventStore:
    return EventStore(
        make_engine(migrated_sqlite_url), signer=CheckpointSigner(tmp_path / "keys" / "k.pem")
    )


def grow(store: EventStore, count: int = 2) -> None:
    for _ in range(count):
        store.append("inc-1", [new_event()])


async def test_a_directory_witness_keeps_every_note_and_the_latest(
    store: EventStore, tmp_path: Path
) -> None:
    witness = DirectoryWitness(tmp_path / "witness")
    grow(store)
    first = store.checkpoint()
    grow(store)
    second = store.checkpoint()
    await witness.publish(second.position, second.note or "")
    await witness.publish(first.position, first.note or "")  # late: never moves "checkpoint" back
    root = tmp_path / "witness"
    assert (root / "checkpoint").read_text() == second.note
    assert (root / "checkpoints" / "2").read_text() == first.note
    assert (root / "checkpoints" / "4").read_text() == second.note
    assert sorted(p.name for p in root.rglob("*")) == ["2", "4", "checkpoint", "checkpoints"]
    assert checkpoint_from_note((root / "checkpoint").read_text()).position == 4


async def test_an_s3_witness_puts_the_notes_in_the_bucket(
    store: EventStore,
    s3_server: S3Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    s3, bucket = s3_server.new_bucket(monkeypatch)
    settings = Settings(
        data_dir=tmp_path,
        witnesses=[f"s3://{bucket}/ledger"],
        s3_endpoint=s3_server.url,
        s3_access_key_env="CONTRACT_S3_ACCESS",
        s3_secret_key_env="CONTRACT_S3_SECRET",
    )
    (witness,) = witnesses_from(settings)
    assert witness.name == f"s3://{bucket}/ledger/"
    grow(store, 3)
    outcome = await ActivityEnvironment().run(CheckpointActivities(store, [witness]).checkpoint)
    assert (outcome.position, outcome.created, outcome.published) == (3, True, [witness.name])
    note = store.checkpoints(1)[0].note
    for key in ("ledger/checkpoint", "ledger/checkpoints/3"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        assert body == note

    monkeypatch.setenv("CONTRACT_S3_SECRET", "wrong-secret")
    (refused,) = witnesses_from(settings)
    grow(store, 1)
    with pytest.raises(ApplicationError, match=f"not published to: s3://{bucket}/ledger/"):
        await ActivityEnvironment().run(CheckpointActivities(store, [refused]).checkpoint)
    assert store.checkpoints(1)[0].position == 4, "the checkpoint is stored all the same"


def s3_settings(s3_server: S3Endpoint, tmp_path: Path, bucket: str) -> Settings:
    """The witness at `s3://<bucket>/ledger` and the S3 settings it publishes (and reads) with."""
    return Settings(
        data_dir=tmp_path,
        witnesses=[f"s3://{bucket}/ledger"],
        s3_endpoint=s3_server.url,
        s3_access_key_env="CONTRACT_S3_ACCESS",
        s3_secret_key_env="CONTRACT_S3_SECRET",
    )


async def test_an_s3_witness_reads_back_every_note_it_wrote(
    store: EventStore,
    s3_server: S3Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    s3, bucket = s3_server.new_bucket(monkeypatch)
    settings = s3_settings(s3_server, tmp_path, bucket)
    (witness,) = witnesses_from(settings)
    activities = CheckpointActivities(store, [witness])
    for count in (2, 9):  # sizes 2 and 11: read back by tree size, not as text sorts them
        grow(store, count)
        await ActivityEnvironment().run(activities.checkpoint)
    s3.put_object(Bucket=bucket, Key="ledger/checkpoints/11/stray", Body=b"not a note")
    s3.put_object(Bucket=bucket, Key="other/checkpoint", Body=b"another prefix")

    notes = await read_s3_witness(settings, f"s3://{bucket}/ledger")
    assert [url for url, _ in notes] == [
        f"s3://{bucket}/ledger/checkpoint",
        f"s3://{bucket}/ledger/checkpoints/2",
        f"s3://{bucket}/ledger/checkpoints/11",
    ]
    stored = {p.position: p.note for p in store.checkpoints()}
    assert [text for _, text in notes] == [stored[11], stored[2], stored[11]]
    assert [checkpoint_from_note(text).position for _, text in notes] == [11, 2, 11]


async def test_what_stops_reading_an_s3_witness_is_named_without_secrets(
    store: EventStore,
    s3_server: S3Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    s3, bucket = s3_server.new_bucket(monkeypatch)
    settings = s3_settings(s3_server, tmp_path, bucket)
    with pytest.raises(ResourceNotFound, match="no checkpoint under the prefix") as empty:
        await read_s3_witness(settings, f"s3://{bucket}/ledger")
    assert empty.value.message.startswith(f"witness s3://{bucket}/ledger/:")
    with pytest.raises(ResourceNotFound, match="no such bucket 'fb-no-such-bucket'"):
        await read_s3_witness(settings, "s3://fb-no-such-bucket/ledger")

    s3.put_object(Bucket=bucket, Key="ledger/checkpoint", Body=b"a note")
    monkeypatch.setenv("CONTRACT_S3_SECRET", "wrong-secret-4711")
    with pytest.raises(ProviderError, match=r"access denied \(SignatureDoesNotMatch\)") as denied:
        await read_s3_witness(settings, f"s3://{bucket}/ledger")
    assert not denied.value.retryable
    assert "CONTRACT_S3_ACCESS and CONTRACT_S3_SECRET" in denied.value.message
    assert "wrong-secret-4711" not in denied.value.message
    assert s3_server.access_key not in denied.value.message

    monkeypatch.delenv("CONTRACT_S3_SECRET")
    with pytest.raises(ActivityError, match="environment variable CONTRACT_S3_SECRET is not set"):
        await read_s3_witness(settings, f"s3://{bucket}/ledger")


async def test_publishes_are_counted_by_witness_kind_and_outcome(
    store: EventStore, loopback: Loopback, tmp_path: Path
) -> None:
    """Counted where the publish runs (the worker's registry); a configured witness's series
    are there at zero before its first publish, so its first failure is an increase."""
    registry = process_registry()

    def count(kind: str, outcome: str) -> float:
        value = registry.get_sample_value(
            "firebreak_witness_publishes_total", {"kind": kind, "outcome": outcome}
        )
        assert value is not None, f"no {kind}/{outcome} series"
        return value

    loopback.handler = lambda r: (503, {}, b"down")
    activities = CheckpointActivities(
        store, [HttpWitness(loopback.url, 5.0), DirectoryWitness(tmp_path / "w")]
    )
    before = {(k, o): count(k, o) for k in ("http", "file") for o in ("ok", "failed")}
    grow(store)
    with pytest.raises(ApplicationError, match="not published to: http"):
        await ActivityEnvironment().run(activities.checkpoint)
    loopback.handler = lambda r: (204, {}, b"")
    await ActivityEnvironment().run(activities.checkpoint)
    after = {key: count(*key) - value for key, value in before.items()}
    assert after == {
        ("http", "ok"): 1,
        ("http", "failed"): 1,
        ("file", "ok"): 2,
        ("file", "failed"): 0,
    }


async def test_an_http_witness_gets_the_note_and_a_failing_one_is_reported_then_retried(
    store: EventStore, loopback: Loopback, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answers = iter([(503, {}, b"down"), (202, {}, b"")])
    loopback.handler = lambda r: next(answers)
    secret_url = loopback.url.replace("http://", "http://witness:s3cr3t@") + "/add-checkpoint"
    directory = DirectoryWitness(tmp_path / "w")
    activities = CheckpointActivities(store, [HttpWitness(secret_url, 5.0), directory])
    grow(store)
    with (
        caplog.at_level(logging.WARNING, "firebreak.witnesses"),
        pytest.raises(ApplicationError, match="checkpoint at 2 stored; not published to: http"),
    ):
        await ActivityEnvironment().run(activities.checkpoint)
    assert "s3cr3t" not in caplog.text and "not published to http://127.0.0.1" in caplog.text
    assert (tmp_path / "w" / "checkpoint").is_file(), "the other witness got it"

    retried = await ActivityEnvironment().run(activities.checkpoint)  # the activity's retry
    assert (retried.position, retried.created) == (2, False), "the same checkpoint, re-published"
    first, second = loopback.requests
    assert first.body == second.body == (store.checkpoints(1)[0].note or "").encode()
    assert second.method == "POST" and second.path == "/add-checkpoint"
    assert second.headers["content-type"] == "text/plain; charset=utf-8"
    assert len(store.checkpoints()) == 1


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "file://host/dir", "s3:///prefix", "https://user:pw@/nohost"]
)
def test_a_witness_url_that_is_not_one_is_a_config_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FIREBREAK_WITNESSES: not a witness") as info:
        witnesses_from(Settings(data_dir=tmp_path, witnesses=[url]))
    assert "pw" not in str(info.value)


def test_checkpoints_never_hold_the_append_lock(pg_url: str, tmp_path: Path) -> None:
    """The head is read once and the root computed outside the lock: an append waiting on
    the head row goes through while a checkpoint is computed (PostgreSQL, where the lock is
    a row lock another connection can hold)."""
    upgrade(pg_url)
    holder = make_engine(pg_url)
    # The checkpointing side gives up on any lock after 2 s: taking the append lock fails.
    engine = sa.create_engine(pg_url, connect_args={"options": "-c lock_timeout=2000"})
    try:
        store = EventStore(engine, signer=CheckpointSigner(tmp_path / "k.pem"))
        grow(store, 3)
        with holder.begin() as conn:
            conn.execute(sa.text("SELECT position FROM audit_head WHERE id=1 FOR UPDATE"))
            point = store.checkpoint()
        assert point.position == 3
        assert store.verify().ok
    finally:
        engine.dispose()
        holder.dispose()
