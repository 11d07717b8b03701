"""Where each local provider keeps its files under the data dir (one place, so the lab, the
factory and the tests agree)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalPaths:
    keys: Path
    models: Path
    datasets: Path
    retraining: Path
    agents: Path
    evidence: Path

    @classmethod
    def under(cls, data_dir: Path) -> LocalPaths:
        return cls(
            keys=data_dir / "gateway",
            models=data_dir / "registry",
            datasets=data_dir / "datasets",
            retraining=data_dir / "retraining",
            agents=data_dir / "agents",
            evidence=data_dir / "evidence",
        )
