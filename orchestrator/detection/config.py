"""The detection engine's configuration: one pydantic section per detector.

Loaded from a YAML or JSON file (`firebreak detect run --config FILE`); every parameter has a
default that is documented in docs/detection.md, so an empty file (or none) is a working
configuration and a tuning change is one line.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.detection.detectors.drift import DriftParams
from orchestrator.detection.detectors.extraction import ExtractionParams
from orchestrator.detection.detectors.injection import InjectionParams
from orchestrator.detection.detectors.leaked_key import LeakedKeyParams
from orchestrator.detection.inputs.jsonl import JsonlMapping
from orchestrator.errors import ConfigError


class DetectionConfig(BaseModel):
    """Every detector's parameters; unknown keys are refused so a typo is not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    extraction: ExtractionParams = ExtractionParams()
    leaked_key: LeakedKeyParams = LeakedKeyParams()
    injection: InjectionParams = InjectionParams()
    drift: DriftParams = DriftParams()
    jsonl: JsonlMapping = JsonlMapping()
    idle_cap_seconds: int = Field(
        default=7 * 86_400,
        ge=60,
        description=(
            "Longest a subject is kept in memory without events (event time), whatever its"
            " detector's windows ask for; below a detector's horizon, the counts of a window"
            " still open when its subject is evicted are lost."
        ),
    )


def load_config(path: Path | None) -> DetectionConfig:
    """The configuration in `path` (YAML or JSON), or the defaults when there is none."""
    if path is None:
        return DetectionConfig()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read detection config {path}: {exc}") from exc
    try:
        return DetectionConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"detection config {path}: {where}: {first['msg']}") from exc
