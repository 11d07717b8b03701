"""Directory dataset store with SHA-256 manifests.

Layout under the root, per dataset::

    <dataset>/<version>/MANIFEST.json            {"files": {relative path: sha256}}
    <dataset>/<version>/...                      the data files
    <dataset>/quarantine/<version>/QUARANTINED.json   marker: incident, time, idempotency key
    <dataset>/state.json                         effect records

A version is quarantined by *where it is*: quarantine writes the marker into the version and
then renames the whole directory under `quarantine/` (one atomic rename), so training jobs that
list live versions can no longer see it. Release reverses the two steps. Either can be retried
after a crash at any point and converges.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from activities.errors import IntegrityFailure, ResourceNotFound
from activities.providers.local.state import Document, JsonState, dump_json, write_atomic
from activities.providers.protocols import IntegrityReport, QuarantineState

MANIFEST = "MANIFEST.json"
MARKER = "QUARANTINED.json"
QUARANTINE_DIR = "quarantine"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _natural(version: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", version)]


def build_manifest(version_dir: Path) -> dict[str, str]:
    """sha256 of every data file under `version_dir` (manifest and marker excluded)."""
    return {
        str(p.relative_to(version_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(version_dir.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, MARKER)
    }


class LocalDatasetStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dataset_dir(self, dataset: str) -> Path:
        path = self.root / dataset
        if not _SAFE_NAME.match(dataset) or not path.is_dir():
            raise ResourceNotFound(f"no dataset {dataset!r} in the local store")
        return path

    def _state(self, dataset: str) -> JsonState:
        return JsonState(self._dataset_dir(dataset) / "state.json")

    def _check_version(self, version: str) -> None:
        if not _SAFE_NAME.match(version) or version == QUARANTINE_DIR:
            raise ResourceNotFound(f"no dataset version {version!r}")

    def live_dir(self, dataset: str, version: str) -> Path:
        self._check_version(version)
        return self._dataset_dir(dataset) / version

    def quarantine_dir(self, dataset: str, version: str) -> Path:
        self._check_version(version)
        return self._dataset_dir(dataset) / QUARANTINE_DIR / version

    def locate(self, dataset: str, version: str) -> Path:
        """The version's directory, live or quarantined."""
        for path in (self.live_dir(dataset, version), self.quarantine_dir(dataset, version)):
            if (path / MANIFEST).is_file():
                return path
        raise ResourceNotFound(f"dataset {dataset!r} has no version {version!r}")

    def _versions(self, dataset: str) -> dict[str, bool]:
        base = self._dataset_dir(dataset)
        found = {p.parent.name: False for p in base.glob(f"*/{MANIFEST}")}
        found.update({p.parent.name: True for p in base.glob(f"{QUARANTINE_DIR}/*/{MANIFEST}")})
        return {v: found[v] for v in sorted(found, key=_natural)}

    async def versions(self, dataset: str) -> dict[str, bool]:
        return await asyncio.to_thread(self._versions, dataset)

    def _verify(self, dataset: str, version: str) -> IntegrityReport:
        path = self.locate(dataset, version)
        try:
            recorded: dict[str, str] = json.loads((path / MANIFEST).read_text())["files"]
        except (ValueError, KeyError) as exc:
            raise IntegrityFailure(f"dataset {dataset}@{version}: manifest unreadable") from exc
        actual = build_manifest(path)
        mismatches = sorted(
            [
                f"{name}: sha256 differs"
                for name in recorded
                if name in actual and actual[name] != recorded[name]
            ]
            + [f"{name}: missing" for name in recorded if name not in actual]
            + [f"{name}: not in manifest" for name in actual if name not in recorded]
        )
        return IntegrityReport(
            dataset=dataset,
            version=version,
            ok=not mismatches,
            checked=len(recorded),
            mismatches=mismatches,
            manifest=recorded,
        )

    async def verify(self, dataset: str, version: str) -> IntegrityReport:
        return await asyncio.to_thread(self._verify, dataset, version)

    def _quarantine(
        self, dataset: str, version: str, incident_id: str, key: str
    ) -> QuarantineState:
        def apply(doc: Document) -> QuarantineState:
            live, held = self.live_dir(dataset, version), self.quarantine_dir(dataset, version)
            if (held / MANIFEST).is_file():
                marker = (
                    json.loads((held / MARKER).read_text()) if (held / MARKER).is_file() else {}
                )
                changed = marker.get("idempotency_key") == key
                return QuarantineState(
                    dataset=dataset, version=version, quarantined=True, changed=changed
                )
            if not (live / MANIFEST).is_file():
                raise ResourceNotFound(f"dataset {dataset!r} has no version {version!r}")
            marker_doc = {
                "incident_id": incident_id,
                "at": datetime.now(UTC).isoformat(),
                "idempotency_key": key,
            }
            write_atomic(live / MARKER, dump_json(marker_doc))
            held.parent.mkdir(exist_ok=True)
            live.rename(held)
            return QuarantineState(dataset=dataset, version=version, quarantined=True, changed=True)

        return self._state(dataset).effect_once(
            f"quarantine:{version}", key, QuarantineState, apply
        )

    async def quarantine(
        self, dataset: str, version: str, *, incident_id: str, idempotency_key: str
    ) -> QuarantineState:
        return await asyncio.to_thread(
            self._quarantine, dataset, version, incident_id, idempotency_key
        )

    def _release(self, dataset: str, version: str, key: str) -> QuarantineState:
        def apply(doc: Document) -> QuarantineState:
            live, held = self.live_dir(dataset, version), self.quarantine_dir(dataset, version)
            if not (held / MANIFEST).is_file():
                if not (live / MANIFEST).is_file():
                    raise ResourceNotFound(f"dataset {dataset!r} has no version {version!r}")
                (live / MARKER).unlink(missing_ok=True)
                return QuarantineState(
                    dataset=dataset, version=version, quarantined=False, changed=False
                )
            (held / MARKER).unlink(missing_ok=True)
            held.rename(live)
            return QuarantineState(
                dataset=dataset, version=version, quarantined=False, changed=True
            )

        return self._state(dataset).effect_once(f"release:{version}", key, QuarantineState, apply)

    async def release(self, dataset: str, version: str, *, idempotency_key: str) -> QuarantineState:
        return await asyncio.to_thread(self._release, dataset, version, idempotency_key)

    def _latest_clean(self, dataset: str) -> str:
        """Newest live version whose files still match its manifest."""
        for version, quarantined in reversed(self._versions(dataset).items()):
            if not quarantined and self._verify(dataset, version).ok:
                return version
        raise ResourceNotFound(f"dataset {dataset!r} has no clean version")

    async def latest_clean(self, dataset: str) -> str:
        return await asyncio.to_thread(self._latest_clean, dataset)

    def add_version(self, dataset: str, version: str, files: dict[str, bytes]) -> bool:
        """Write a new version with its manifest; returns False if it already exists."""
        self._check_version(version)
        target = self.root / dataset / version
        if (target / MANIFEST).is_file() or (
            self.root / dataset / QUARANTINE_DIR / version
        ).exists():
            return False
        for name, content in files.items():
            write_atomic(target / name, content)
        write_atomic(target / MANIFEST, dump_json({"files": build_manifest(target)}))
        return True
