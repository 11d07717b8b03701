"""Output drift: a newly deployed model version behaving unlike the versions before it.

Per model, each version keeps running totals: evaluation scores (count, sum, sum of squares),
refusals, and finish reasons outside `normal_finish_reasons` (a `length` or `content_filter`
surge). When a version is first seen and the model's earlier versions hold at least
`baseline_min_samples` events, their pooled totals are frozen as that version's baseline: a
deployment is compared with what ran before it, and a canary rollout running two versions at
once still has a fixed reference. Every `check_every` events after `min_samples`, the version's
mean score (Welch z) and its refusal and abnormal-finish rates (two-proportion z) are tested
against the baseline; a difference that is both significant (`z`) and large enough to matter
(`min_score_delta`, `min_rate_delta`) alerts once per version.

Its state is running totals with no window, all of it in the stored baseline (`horizon` is
infinite), so a model is evicted only after the engine's `idle_cap_seconds` without events.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.detection.detectors.base import Dirty, State
from orchestrator.detection.models import Detection, TelemetryEvent
from orchestrator.domain import Severity

# totals: events, scored, score sum, score sum of squares, refusals, abnormal finishes
_N, _SCORED, _SUM, _SQ, _REFUSED, _ABNORMAL = range(6)


class DriftParams(BaseModel):
    """Parameters of the output-drift detector (defaults in docs/detection.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    min_samples: int = Field(default=200, ge=10, description="Events of a new version first.")
    baseline_min_samples: int = Field(default=500, ge=10, description="Events of earlier ones.")
    check_every: int = Field(default=25, ge=1, description="Test after every this many events.")
    z: float = Field(default=4.0, gt=0, description="Significance of a difference.")
    min_score_delta: float = Field(default=0.05, ge=0, description="Mean score change that counts.")
    min_rate_delta: float = Field(default=0.05, ge=0, description="Rate change that counts.")
    normal_finish_reasons: list[str] = ["stop", "end_turn", "tool_calls", "tool_use"]
    max_versions: int = Field(default=16, ge=2, description="Versions remembered per model.")


class _Model:
    __slots__ = ("alerted", "baselines", "order", "totals", "touched")

    def __init__(self) -> None:
        self.touched = 0.0  # event time of the latest event, for eviction
        self.totals: dict[str, list[float]] = {}
        self.baselines: dict[str, list[float]] = {}
        self.order: list[str] = []
        self.alerted: set[str] = set()


class DriftDetector:
    """Per model version: mean score and refusal / finish-reason rates against the baseline."""

    name = "drift"
    alert_type = "model_drift"

    def __init__(self, params: DriftParams) -> None:
        self.params = params
        self._normal = frozenset(params.normal_finish_reasons)
        self._models: dict[str, _Model] = {}
        self._dirty = Dirty()
        self.horizon = math.inf

    def observe(self, event: TelemetryEvent, t: float) -> Detection | None:
        name = event.model
        if name is None:
            return None
        model = self._models.get(name)
        if model is None:
            model = self._models[name] = _Model()
        if t > model.touched:
            model.touched = t
        version = event.model_version or name
        totals = model.totals.get(version)
        if totals is None:
            totals = self._deploy(model, version)
        totals[_N] += 1
        score = event.score
        if score is not None:
            totals[_SCORED] += 1
            totals[_SUM] += score
            totals[_SQ] += score * score
        if event.refused:
            totals[_REFUSED] += 1
        reason = event.finish_reason
        if reason is not None and reason not in self._normal:
            totals[_ABNORMAL] += 1
        self._dirty.subjects.add(name)
        n = totals[_N]
        if n < self.params.min_samples or n % self.params.check_every or version in model.alerted:
            return None
        baseline = model.baselines.get(version)
        if baseline is None:
            return None
        return self._test(name, version, model, totals, baseline, event)

    def _deploy(self, model: _Model, version: str) -> list[float]:
        """A version seen for the first time: freeze what ran before it as its baseline."""
        earlier = [0.0] * 6
        for totals in model.totals.values():
            for i in range(6):
                earlier[i] += totals[i]
        if earlier[_N] >= self.params.baseline_min_samples:
            model.baselines[version] = earlier
        totals = model.totals[version] = [0.0] * 6
        model.order.append(version)
        if len(model.order) > self.params.max_versions:
            oldest = model.order.pop(0)
            model.totals.pop(oldest, None)
            model.baselines.pop(oldest, None)
        return totals

    def _test(
        self,
        name: str,
        version: str,
        model: _Model,
        now: list[float],
        before: list[float],
        event: TelemetryEvent,
    ) -> Detection | None:
        params = self.params
        moved: list[str] = []
        evidence: dict[str, object] = {"samples": int(now[_N]), "baseline_samples": int(before[_N])}
        if now[_SCORED] >= params.min_samples and before[_SCORED] >= params.min_samples:
            m1, v1 = _mean_var(before[_SUM], before[_SQ], before[_SCORED])
            m2, v2 = _mean_var(now[_SUM], now[_SQ], now[_SCORED])
            se = math.sqrt(v1 / before[_SCORED] + v2 / now[_SCORED]) or 1e-12
            z = (m2 - m1) / se
            evidence.update(score_mean=round(m2, 4), baseline_score_mean=round(m1, 4))
            if abs(z) >= params.z and abs(m2 - m1) >= params.min_score_delta:
                moved.append(f"mean evaluation score {m1:.3f} → {m2:.3f} (z = {z:.1f})")
        for label, i in (("refusal rate", _REFUSED), ("abnormal finish-reason rate", _ABNORMAL)):
            p1, p2 = before[i] / before[_N], now[i] / now[_N]
            pooled = (before[i] + now[i]) / (before[_N] + now[_N])
            se = math.sqrt(pooled * (1 - pooled) * (1 / before[_N] + 1 / now[_N])) or 1e-12
            z = (p2 - p1) / se
            key = label.split()[0]
            evidence.update({f"{key}_rate": round(p2, 4), f"baseline_{key}_rate": round(p1, 4)})
            if abs(z) >= params.z and abs(p2 - p1) >= params.min_rate_delta:
                moved.append(f"{label} {p1:.1%} → {p2:.1%} (z = {z:.1f})")
        if not moved:
            return None
        model.alerted.add(version)
        earlier = [v for v in model.order if v != version][-3:]
        return Detection(
            detector=self.name,
            alert_type=self.alert_type,
            subject=f"model:{name}@{version}",
            severity=Severity.medium,
            title=f"Model {name} version {version} drifted from its baseline",
            explanation=(
                f"Since version {version} of {name} was deployed ({int(now[_N]):,} requests), "
                f"{'; '.join(moved)}, against {int(before[_N]):,} requests of earlier versions "
                f"({', '.join(earlier)})."
            ),
            at=event.at,
            resources={"model": name, "model_version": version},
            evidence=evidence,
        )

    def export(self, subject: str) -> State | None:
        model = self._models.get(subject)
        return None if model is None else _export(model)

    def evict(self, now: float, idle: float) -> list[tuple[str, State]]:
        cutoff = now - idle
        dirty = self._dirty.subjects
        final: list[tuple[str, State]] = []
        for name in [n for n, model in self._models.items() if model.touched < cutoff]:
            model = self._models.pop(name)
            if name in dirty:
                dirty.discard(name)
                final.append((name, _export(model)))
        return final

    def held(self) -> int:
        return len(self._models)

    def holds(self, subject: str) -> bool:
        return subject in self._models

    def wanted(self, event: TelemetryEvent) -> tuple[str, ...]:
        return () if event.model is None else (event.model,)

    def restore(self, subject: str, state: State) -> None:
        model = _Model()
        for row in state.get("versions", []):
            version = str(row["version"])
            model.order.append(version)
            model.totals[version] = [float(x) for x in row["totals"]]
            if row.get("baseline") is not None:
                model.baselines[version] = [float(x) for x in row["baseline"]]
            if row.get("alerted"):
                model.alerted.add(version)
        self._models[subject] = model

    def describe(self, state: State) -> str:
        parts = []
        for row in state.get("versions", []):
            totals = row.get("totals") or [0.0] * 6
            note = " (drift alerted)" if row.get("alerted") else ""
            parts.append(f"{row.get('version')}: {int(totals[_N]):,} requests{note}")
        return "; ".join(parts)

    def subjects(self) -> list[str]:
        return list(self._models)

    def changed(self) -> set[str]:
        return self._dirty.take()


def _export(model: _Model) -> State:
    return {
        "versions": [
            {
                "version": v,
                "totals": list(model.totals[v]),
                "baseline": _copy(model.baselines.get(v)),
                "alerted": v in model.alerted,
            }
            for v in model.order
        ]
    }


def _copy(values: list[float] | None) -> list[float] | None:
    """Exports are saved from a thread while the engine keeps counting: never hand out the
    live list."""
    return None if values is None else list(values)


def _mean_var(total: float, squares: float, n: float) -> tuple[float, float]:
    mean = total / n
    return mean, max(squares / n - mean * mean, 0.0)
