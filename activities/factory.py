"""Providers chosen by configuration, and the activity callables the worker registers.

Each swappable capability has a registry here: a dict, written out in this module, from
provider name to a constructor taking `Settings` (the local providers' inline, the real ones'
in `activities/providers/configured.py`). `build_providers` picks each entry by its setting
(`FIREBREAK_MODELS_PROVIDER=mlflow` builds `MODEL_REGISTRIES["mlflow"]`; the notifier by whether
notification URLs are set); an unknown name is a `ConfigError` naming the setting and the known
names. Adding a provider means adding its entry here; provider modules register nothing
themselves.

The worker runs every provider wrapped by `recorded` (`activities/recorded.py`: each effect
answered once per idempotency key from the database) and one `ResourceGuard` on the same
database, so a retry or a second worker sees what the first did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from activities.agents import AgentActivities
from activities.datasets import DatasetActivities
from activities.effects import EffectRecords
from activities.errors import IntegrityFailure, ProviderError, ResourceNotFound
from activities.evidence import EvidenceActivities
from activities.guard import ResourceGuard
from activities.keys import KeyActivities
from activities.measured import measure
from activities.models import ModelActivities
from activities.notify import NotifyActivities
from activities.providers import configured
from activities.providers.local.agents import LocalAgentControl
from activities.providers.local.datasets import LocalDatasetStore
from activities.providers.local.evidence import LocalEvidenceStore
from activities.providers.local.keys import LocalKeyStore
from activities.providers.local.models import LocalModelRegistry
from activities.providers.local.notify import LogNotifier
from activities.providers.local.paths import LocalPaths
from activities.providers.local.retraining import LocalRetrainingRunner
from activities.providers.protocols import (
    AgentControl,
    DatasetStore,
    EvidenceStore,
    KeyProvider,
    ModelRegistry,
    Notifier,
    RetrainingRunner,
)
from activities.recorded import (
    RecordedAgents,
    RecordedDatasets,
    RecordedEvidence,
    RecordedKeys,
    RecordedModels,
    RecordedRetraining,
)
from activities.retraining import DEFAULT_POLL_SECONDS, RetrainingActivities
from orchestrator.db import make_engine
from orchestrator.errors import ConfigError, NotFound, Unavailable
from orchestrator.evidence.service import EvidenceReader, EvidenceTampered
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import ENV_PREFIX, Settings

T = TypeVar("T")
Constructor = Callable[[Settings], T]


def _local_runner(settings: Settings) -> LocalRetrainingRunner:
    paths = LocalPaths.under(settings.data_dir)
    return LocalRetrainingRunner(
        paths.retraining, LocalModelRegistry(paths.models), LocalDatasetStore(paths.datasets)
    )


KEY_PROVIDERS: dict[str, Constructor[KeyProvider]] = {
    "local": lambda s: LocalKeyStore(LocalPaths.under(s.data_dir).keys),
    "http": configured.key_provider(None),
    "litellm": configured.key_provider("litellm"),
    "kong": configured.key_provider("kong"),
    "openai": configured.key_provider("openai"),
}
MODEL_REGISTRIES: dict[str, Constructor[ModelRegistry]] = {
    "local": lambda s: LocalModelRegistry(LocalPaths.under(s.data_dir).models),
    "mlflow": configured.mlflow_registry,
}
DATASET_STORES: dict[str, Constructor[DatasetStore]] = {
    "local": lambda s: LocalDatasetStore(LocalPaths.under(s.data_dir).datasets),
    "s3": configured.s3_store,
}
RETRAINING_RUNNERS: dict[str, Constructor[RetrainingRunner]] = {
    "local": _local_runner,
    **{
        kind: configured.retraining_runner(kind)
        for kind in ("airflow", "argo", "github", "webhook")
    },
}
AGENT_CONTROLS: dict[str, Constructor[AgentControl]] = {
    "local": lambda s: LocalAgentControl(LocalPaths.under(s.data_dir).agents),
}
EVIDENCE_STORES: dict[str, Constructor[EvidenceStore]] = {
    "local": lambda s: LocalEvidenceStore(
        LocalPaths.under(s.data_dir).evidence, KeyRing.load_or_create(s.keyring_path)
    ),
    "s3": configured.s3_evidence,
}
NOTIFIERS: dict[str, Constructor[Notifier]] = {
    "log": lambda s: LogNotifier(),
    "apprise": configured.apprise_notifier,
}
"""`log` when `notify_urls` and `notify_routes` are empty, else `apprise`."""


@dataclass(frozen=True)
class Providers:
    keys: KeyProvider
    models: ModelRegistry
    datasets: DatasetStore
    retraining: RetrainingRunner
    agents: AgentControl
    notifier: Notifier
    evidence: EvidenceStore


def _pick(registry: dict[str, Constructor[T]], name: str, field: str, settings: Settings) -> T:
    try:
        constructor = registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        variable = f"{ENV_PREFIX}{field.upper()}"
        raise ConfigError(f"{variable}: unknown provider {name!r} (known: {known})") from None
    return constructor(settings)


def build_evidence_store(settings: Settings) -> EvidenceStore:
    """The configured evidence store alone: what the API and `firebreak evidence` read from."""
    return _pick(EVIDENCE_STORES, settings.evidence_provider, "evidence_provider", settings)


class _VerifiedReads:
    """An `EvidenceReader` for the API and the CLI over the configured store: its activity
    errors become the service's (`NotFound`, `EvidenceTampered`, `Unavailable`)."""

    def __init__(self, store: EvidenceStore) -> None:
        self._store = store

    async def read(self, digest: str) -> bytes:
        try:
            return await self._store.get(digest)
        except ResourceNotFound as exc:
            raise NotFound(exc.message) from None
        except IntegrityFailure as exc:
            raise EvidenceTampered(exc.message) from None
        except ProviderError as exc:
            raise Unavailable(exc.message) from None


def build_evidence_reader(settings: Settings) -> EvidenceReader:
    """What `create_app(evidence=)` and `firebreak evidence get` read evidence through."""
    return _VerifiedReads(build_evidence_store(settings))


def _notifier_name(settings: Settings) -> str:
    return "apprise" if settings.notify_urls or settings.notify_routes else "log"


def build_providers(settings: Settings) -> Providers:
    notifier = _notifier_name(settings)
    return Providers(
        keys=_pick(KEY_PROVIDERS, settings.keys_provider, "keys_provider", settings),
        models=_pick(MODEL_REGISTRIES, settings.models_provider, "models_provider", settings),
        datasets=_pick(DATASET_STORES, settings.datasets_provider, "datasets_provider", settings),
        retraining=_pick(
            RETRAINING_RUNNERS, settings.retraining_provider, "retraining_provider", settings
        ),
        agents=_pick(AGENT_CONTROLS, settings.agents_provider, "agents_provider", settings),
        notifier=_pick(NOTIFIERS, notifier, "notify_urls", settings),
        evidence=build_evidence_store(settings),
    )


def measured(providers: Providers, settings: Settings) -> Providers:
    """`providers` with every call timed and every failure counted under the configured
    provider's name (`activities/measured.py`)."""
    return Providers(
        keys=measure(providers.keys, provider=settings.keys_provider, capability="keys"),
        models=measure(providers.models, provider=settings.models_provider, capability="models"),
        datasets=measure(
            providers.datasets, provider=settings.datasets_provider, capability="datasets"
        ),
        retraining=measure(
            providers.retraining, provider=settings.retraining_provider, capability="retraining"
        ),
        agents=measure(providers.agents, provider=settings.agents_provider, capability="agents"),
        notifier=measure(
            providers.notifier, provider=_notifier_name(settings), capability="notify"
        ),
        evidence=measure(
            providers.evidence, provider=settings.evidence_provider, capability="evidence"
        ),
    )


def recorded(providers: Providers, records: EffectRecords) -> Providers:
    """`providers` with every effect answered once per idempotency key from `records`."""
    return Providers(
        keys=RecordedKeys(providers.keys, records),
        models=RecordedModels(providers.models, records),
        datasets=RecordedDatasets(providers.datasets, records),
        retraining=RecordedRetraining(providers.retraining, records),
        agents=RecordedAgents(providers.agents, records),
        notifier=providers.notifier,
        evidence=RecordedEvidence(providers.evidence, records),
    )


def activities_for(
    providers: Providers, guard: ResourceGuard, *, poll_seconds: float = DEFAULT_POLL_SECONDS
) -> list[Callable[..., Any]]:
    """Every activity callable over `providers`: one per catalogue action, plus `notify.send`."""
    retraining = RetrainingActivities(providers.retraining, providers.datasets, guard, poll_seconds)
    keys = KeyActivities(providers.keys, guard)
    models = ModelActivities(providers.models, guard)
    datasets = DatasetActivities(providers.datasets, guard)
    agents = AgentActivities(providers.agents, guard)
    evidence = EvidenceActivities(
        providers.evidence, providers.keys, providers.models, providers.datasets
    )
    notify = NotifyActivities(providers.notifier)
    return [
        keys.revoke, keys.restore, keys.usage,
        models.snapshot, models.rollback, models.restore, models.validate,
        models.promote, models.evaluate,
        datasets.verify, datasets.quarantine, datasets.release,
        retraining.run,
        agents.suspend_tool, agents.restore_tool,
        evidence.collect,
        notify.responders, notify.send,
    ]  # fmt: skip


def build_activities(
    settings: Settings, engine: sa.Engine | None = None
) -> list[Callable[..., Any]]:
    """The worker's activities: providers from `settings`, measured, recorded, and the guard,
    both on `engine` (default: a new one on the event-store database)."""
    engine = make_engine(settings.db_url) if engine is None else engine
    guard = ResourceGuard(engine, settings.guard_window_seconds)
    providers = measured(build_providers(settings), settings)
    return activities_for(recorded(providers, EffectRecords(engine)), guard)
