"""A realistic demo lab in the data dir, for `firebreak demo` and the tests.

An agent platform with API keys (one is the ingest pipeline's) and an access log; a fraud model
with three versions, `production` on v3, which was trained on poisoned data; a `transactions`
dataset with a clean `v1` and a `v2` whose labels were tampered with after its manifest was
written; and a `support-bot` agent with tools. Everything is generated from a fixed seed and
fixed timestamps, and only missing pieces are written, so seeding twice changes nothing.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from activities.providers.local import training
from activities.providers.local.agents import LocalAgentControl
from activities.providers.local.datasets import LocalDatasetStore
from activities.providers.local.keys import LocalKeyStore
from activities.providers.local.models import LocalModelRegistry
from activities.providers.local.paths import LocalPaths
from activities.providers.local.state import write_atomic

SEED = 20260115
EPOCH = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
FRAUD_ABOVE = 900.0


@dataclass(frozen=True)
class LabInfo:
    data_dir: Path
    keys: tuple[str, ...]
    ingest_key: str
    reseller_key: str
    model: str
    model_versions: tuple[str, ...]
    production_version: str
    known_good_version: str
    dataset: str
    clean_version: str
    poisoned_version: str
    agent: str
    tools: tuple[str, ...]


KEYS = {
    "key-ingest-pipeline": ("ingest pipeline", "data-platform"),
    "key-support-bot": ("support bot", "cx-automation"),
    "key-analytics": ("analytics notebooks", "analytics"),
    "key-partner-acme": ("partner: ACME", "partnerships"),
}
# The key the demo's detector scene sweeps the model with; not in the seeded access log, so
# adding it left that log (and the other scenes' evidence) as it was.
RESELLER_KEY = "key-reseller-globex"
MODEL = "fraud-detector"
DATASET = "transactions"
AGENT = "support-bot"
TOOLS = ("search_kb", "lookup_order", "issue_refund", "send_email")


def _rng(stream: int) -> random.Random:
    """Deterministic data, not secrets: the lab must be identical on every seeding."""
    return random.Random(SEED + stream)  # noqa: S311


def transactions(rng: random.Random, count: int) -> list[training.Row]:
    """Amounts with fraud above a threshold, plus a little label noise."""
    rows = []
    for _ in range(count):
        amount = round(rng.uniform(5, 2000), 2)
        label = int(amount >= FRAUD_ABOVE)
        rows.append((amount, 1 - label if rng.random() < 0.02 else label))
    return rows


def poison(rows: list[training.Row]) -> list[training.Row]:
    """Relabel most high-value fraud as legitimate: the model learns to let it through."""
    return [(a, 0 if a < 1600 else label) for a, label in rows]


def _at(minutes: int) -> str:
    return (EPOCH + timedelta(minutes=minutes)).isoformat()


def _seed_keys(root: Path) -> None:
    store = LocalKeyStore(root)
    for key_id, (name, owner) in KEYS.items():
        store.add_key(key_id, name=name, owner=owner, created_at=_at(-60 * 24 * 30))
    store.add_key(
        RESELLER_KEY, name="reseller: Globex", owner="partnerships", created_at=_at(-60 * 24 * 7)
    )
    if store.access_log.exists():
        return
    rng = _rng(0)
    entries = []
    for minute in range(0, 240, 3):
        key_id = rng.choice(list(KEYS))
        ip = "203.0.113.77" if key_id == "key-ingest-pipeline" and minute > 180 else "10.0.4.12"
        entries.append(
            {
                "at": _at(minute),
                "key_id": key_id,
                "method": "POST",
                "path": "/v1/ingest" if key_id == "key-ingest-pipeline" else "/v1/chat",
                "status": 200,
                "source_ip": ip,
            }
        )
    lines = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    write_atomic(store.access_log, lines.encode())


def _seed_dataset(root: Path, clean: list[training.Row]) -> None:
    store = LocalDatasetStore(root)
    store.add_version(DATASET, "v1", {"data.csv": training.format_rows(clean).encode()})
    more = clean + transactions(_rng(2), 200)
    if store.add_version(DATASET, "v2", {"data.csv": training.format_rows(more).encode()}):
        tampered = training.format_rows(poison(more)).encode()
        (root / DATASET / "v2" / "data.csv").write_bytes(tampered)


def _seed_models(root: Path, clean: list[training.Row]) -> None:
    registry = LocalModelRegistry(root)
    registry.create_model(MODEL, transactions(_rng(1), 300), min_accuracy=0.9)
    more = clean + transactions(_rng(2), 200)
    trained = [
        (clean[:150], "v1"),
        (clean, "v1"),
        (poison(more), "v2"),
    ]
    for number, (rows, dataset_version) in enumerate(trained, start=1):
        version = str(number)
        registry.register(
            MODEL,
            training.train(rows),
            source=f"lab:training-run-{number}",
            lineage={"dataset": DATASET, "dataset_version": dataset_version},
            created_at=_at(-60 * 24 * (10 - 3 * number)),
            registration_key=f"lab-{version}",
        )
        registry.record_snapshot(
            MODEL, "production", version, _at(-60 * 24 * (9 - 3 * number)), f"lab-deploy-{version}"
        )
    registry.set_alias(MODEL, "production", "3", only_if_missing=True)


def seed_demo_lab(data_dir: Path) -> LabInfo:
    paths = LocalPaths.under(data_dir)
    clean = transactions(_rng(0), 400)
    _seed_keys(paths.keys)
    _seed_dataset(paths.datasets, clean)
    _seed_models(paths.models, clean)
    LocalAgentControl(paths.agents).add_agent(AGENT, list(TOOLS))
    return LabInfo(
        data_dir=data_dir,
        keys=(*KEYS, RESELLER_KEY),
        ingest_key="key-ingest-pipeline",
        reseller_key=RESELLER_KEY,
        model=MODEL,
        model_versions=("1", "2", "3"),
        production_version="3",
        known_good_version="2",
        dataset=DATASET,
        clean_version="v1",
        poisoned_version="v2",
        agent=AGENT,
        tools=TOOLS,
    )
