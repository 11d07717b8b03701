"""The detection engine's vocabulary: one telemetry event in, one detection out.

Every input (OTLP GenAI spans, LiteLLM spend logs, JSON Lines) is mapped to a `TelemetryEvent`
before any detector sees it, so detectors know nothing about wire formats and the benchmark can
generate events directly. Both types are frozen dataclasses with slots rather than pydantic
models: the engine must take 20,000 events/s on one core, and validation per event would cost
more than the detectors themselves. Inputs validate at the edge instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.domain import Severity


@dataclass(frozen=True, slots=True)
class TelemetryEvent:
    """One AI request as the detectors see it.

    `caller` is whoever the request is attributed to (user, agent or principal id); `api_key` is
    the key it used (a gateway's hashed key is fine: it is only compared, never used);
    `network` is the client address or its network (what a leaked key is used from);
    `input_digest` is a hash of the input text, so distinct-input coverage can be counted without
    keeping any prompt; `finding` a guardrail finding category; `marker` an injection marker or
    canary token name seen in the request or response; `score` an evaluation score of the
    response; `refused` whether the model refused.
    """

    at: datetime
    caller: str
    api_key: str | None = None
    network: str | None = None
    agent: str | None = None
    model: str | None = None
    model_version: str | None = None
    operation: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    input_digest: str | None = None
    finding: str | None = None
    marker: str | None = None
    score: float | None = None
    finish_reason: str | None = None
    refused: bool = False


@dataclass(frozen=True, slots=True)
class Detection:
    """What a detector concluded, ready to become an alert.

    `detector` + `subject` is the alert's fingerprint, so Firebreak folds repeats of one attack
    into one incident; `alert_type` names the built-in playbook that should run; `explanation`
    is a sentence a responder can act on, with the figures that crossed the threshold, and
    `evidence` carries the same figures as data. `resources` are the alert's resources
    (`api_key`, `model`, `model_version`, `agent`) that playbook steps act on.
    """

    detector: str
    alert_type: str
    subject: str
    severity: Severity
    title: str
    explanation: str
    at: datetime
    resources: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """One incident per detector and subject, however often the detector fires."""
        return f"detect:{self.detector}:{self.subject}"
