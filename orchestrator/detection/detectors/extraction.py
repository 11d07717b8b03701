"""Model extraction: a caller or key querying far above its own learned rate.

Three window scales run side by side, each a tumbling window per subject (per caller and, the
key being what gets revoked, per API key): a short one (5 minutes) catches a burst, an hourly
one a sweep that stays under the burst limit, and a daily one (`daily`, null to drop it) the
low-and-slow sweep that adds a few dozen requests an hour over distinct inputs, day and night,
which no shorter window can tell from a busy hour (measured in bench/detect.py). In each
window three figures are counted: requests, tokens (input + output) and distinct
`input_digest`s (the coverage of the input space). Each figure is compared, as it grows, with
a limit set when the window opened from the subject's history of *active* windows:
`median + k·spread` on log1p counts (spread = 1.4826·MAD, never below `min_spread`). Until a
subject has `warmup_windows` windows of history, fixed warm-up limits apply instead, so a brand
new key that starts a sweep at once is still caught. A window that alerted does not enter the
history, so an attack never teaches the baseline that it is normal.

A subject idle for longer than the longest window (`horizon`) has nothing in memory that its
stored history lacks once its last windows are closed, so the engine may evict it (closing
them first) and restore the history when the subject returns.
"""

from __future__ import annotations

import math
from array import array
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.detection.detectors.base import Cooldown, Dirty, State
from orchestrator.detection.models import Detection, TelemetryEvent
from orchestrator.detection.robust import ceiling, median
from orchestrator.domain import Severity
from orchestrator.timeutil import EPOCH

FIGURES = ("requests", "tokens", "distinct inputs")


class WindowParams(BaseModel):
    """One window scale: its length, the floors below which it never alerts, and its warm-up
    limits (used while a subject has too little history for a baseline of its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seconds: int = Field(ge=10, description="Window length.")
    min_requests: int = Field(ge=1, description="Never alert on fewer requests in a window.")
    min_tokens: int = Field(ge=1, description="Never alert on fewer tokens in a window.")
    min_distinct: int = Field(ge=1, description="Never alert on fewer distinct inputs.")
    warmup_requests: int = Field(ge=1, description="Limit on requests before a baseline exists.")
    warmup_tokens: int = Field(ge=1, description="Limit on tokens before a baseline exists.")
    warmup_distinct: int = Field(ge=1, description="Limit on distinct inputs before a baseline.")


class ExtractionParams(BaseModel):
    """Parameters of the extraction detector (defaults in docs/detection.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    burst: WindowParams = WindowParams(
        seconds=300,
        min_requests=60,
        min_tokens=60_000,
        min_distinct=60,
        warmup_requests=300,
        warmup_tokens=400_000,
        warmup_distinct=300,
    )
    sweep: WindowParams = WindowParams(
        seconds=3600,
        min_requests=200,
        min_tokens=200_000,
        min_distinct=200,
        warmup_requests=1500,
        warmup_tokens=2_000_000,
        warmup_distinct=1200,
    )
    daily: WindowParams | None = WindowParams(
        seconds=86_400,
        min_requests=250,
        min_tokens=250_000,
        min_distinct=250,
        warmup_requests=3000,
        warmup_tokens=4_000_000,
        warmup_distinct=3000,
    )
    k: float = Field(default=4.0, gt=0, description="Robust standard deviations over the median.")
    min_spread: float = Field(
        default=0.5, gt=0, description="Floor of the spread, in log units (0.5 ≈ a factor 1.65)."
    )
    warmup_windows: int = Field(default=6, ge=1, description="Active windows before a baseline.")
    history_windows: int = Field(default=48, ge=3, description="Active windows kept per subject.")
    max_distinct: int = Field(
        default=20_000, ge=100, description="Distinct digests counted per window (memory bound)."
    )
    per_key: bool = Field(default=True, description="Also keep baselines per API key.")
    skip_operations: list[str] = Field(
        default=["apply_guardrail", "run_guardrail"],
        description="Operations that are not model requests (a guardrail's own span).",
    )
    cooldown_seconds: int = Field(
        default=21_600, ge=0, description="At most one alert per subject this often."
    )


class _History:
    """The last `maxlen` active windows' (requests, tokens, distinct) as log1p values, packed
    in one float32 array: about 600 bytes per subject and scale where tuples in a deque would
    take twenty times that, which matters with a million callers."""

    __slots__ = ("maxlen", "values")

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.values = array("f")

    def append(self, requests: float, tokens: float, distinct: float) -> None:
        self.values.extend((requests, tokens, distinct))
        if len(self.values) > 3 * self.maxlen:
            del self.values[:3]

    def __len__(self) -> int:
        return len(self.values) // 3

    def column(self, figure: int) -> list[float]:
        return self.values[figure::3].tolist()

    def rows(self) -> list[list[float]]:
        # to 4 decimals (the stored JSON stays short); the values are log1p of counts, never
        # negative, so adding a half and truncating rounds them: a flush exports every busy
        # subject's history, and this is 4x faster than round(x, 4) (bench/detect.py)
        v = [int(x * 10_000.0 + 0.5) / 10_000.0 for x in self.values.tolist()]
        return [v[i : i + 3] for i in range(0, len(v), 3)]


class _Window:
    """The open window of one scale for one subject, and that scale's history."""

    __slots__ = ("alerted", "digests", "history", "index", "limits", "requests", "tokens")

    def __init__(self, history: _History) -> None:
        self.index = -1
        self.requests = 0
        self.tokens = 0
        self.digests: set[str] = set()
        self.alerted = False
        self.limits: tuple[float, float, float] | None = None
        self.history = history


class _Subject:
    __slots__ = ("windows",)

    def __init__(self, scales: int, maxlen: int) -> None:
        self.windows = [_Window(_History(maxlen)) for _ in range(scales)]


class ExtractionDetector:
    """Per caller and per key request, token and distinct-input rates against their baseline."""

    name = "extraction"
    alert_type = "model_extraction"

    def __init__(self, params: ExtractionParams) -> None:
        self.params = params
        self._scales = tuple(
            scale for scale in (params.burst, params.sweep, params.daily) if scale is not None
        )
        self._callers: dict[str, _Subject] = {}
        self._keys: dict[str, _Subject] = {}
        self._cooldown = Cooldown(params.cooldown_seconds)
        self._dirty = Dirty()
        self._skip = frozenset(params.skip_operations)
        self.horizon = float(max(scale.seconds for scale in self._scales))
        # a subject's latest event fell in its finest open window: when that window ends is
        # when it was last seen, to within a few minutes, at no cost per event or per subject
        self._finest = min(range(len(self._scales)), key=lambda i: self._scales[i].seconds)

    def observe(self, event: TelemetryEvent, t: float) -> Detection | None:
        if event.operation in self._skip:
            return None
        found = self._observe(self._callers, "caller", event.caller, event, t)
        if self.params.per_key and event.api_key is not None:
            by_key = self._observe(self._keys, "key", event.api_key, event, t)
            found = found or by_key
        return found

    def _observe(
        self, table: dict[str, _Subject], kind: str, name: str, event: TelemetryEvent, t: float
    ) -> Detection | None:
        state = table.get(name)
        if state is None:
            state = table[name] = _Subject(len(self._scales), self.params.history_windows)
        tokens = event.input_tokens + event.output_tokens
        digest = event.input_digest
        found = None
        for scale, window in zip(self._scales, state.windows, strict=True):
            index = int(t // scale.seconds)
            if index > window.index:  # a late event counts in the open window
                self._roll(kind, name, window, index)
            window.requests += 1
            window.tokens += tokens
            digests = window.digests
            if digest is not None and len(digests) < self.params.max_distinct:
                digests.add(digest)
            if window.alerted or found is not None:
                continue
            # below every floor nothing can alert, so limits (a median of the history) are
            # only worked out for the few windows that get this busy
            if (
                window.requests <= scale.min_requests
                and window.tokens <= scale.min_tokens
                and len(digests) <= scale.min_distinct
            ):
                continue
            limits = window.limits
            if limits is None:
                limits = window.limits = self._limits(scale, window.history)
            if window.requests > limits[0] or window.tokens > limits[1] or len(digests) > limits[2]:
                window.alerted = True
                subject = f"{kind}:{name}"
                if self._cooldown.ready(subject, t):
                    found = self._detection(subject, scale, window, event)
        return found

    def _roll(self, kind: str, name: str, window: _Window, index: int) -> None:
        """Close the window (its counts join the history unless it alerted) and open the next."""
        if window.index >= 0 and window.requests and not window.alerted:
            window.history.append(
                math.log1p(window.requests),
                math.log1p(window.tokens),
                math.log1p(len(window.digests)),
            )
            self._dirty.subjects.add(f"{kind}:{name}")
        window.index = index
        window.requests = window.tokens = 0
        window.digests = set()
        window.alerted = False
        window.limits = None

    def _limits(self, scale: WindowParams, history: _History) -> tuple[float, float, float]:
        if len(history) < self.params.warmup_windows:
            return (scale.warmup_requests, scale.warmup_tokens, scale.warmup_distinct)
        floors = (scale.min_requests, scale.min_tokens, scale.min_distinct)
        return tuple(  # type: ignore[return-value]
            max(ceiling(history.column(i), self.params.k, self.params.min_spread)[2], floor)
            for i, floor in enumerate(floors)
        )

    def _detection(
        self, subject: str, scale: WindowParams, window: _Window, event: TelemetryEvent
    ) -> Detection:
        assert window.limits is not None
        counts = (window.requests, window.tokens, len(window.digests))
        crossed = next(i for i in range(3) if counts[i] > window.limits[i])
        warm = len(window.history) >= self.params.warmup_windows
        kind, _, name = subject.partition(":")
        who = "caller" if kind == "caller" else "API key"
        start = window.index * scale.seconds
        evidence: dict[str, object] = {
            "window_seconds": scale.seconds,
            "window_start": _iso(start),
            "requests": counts[0],
            "tokens": counts[1],
            "distinct_inputs": counts[2],
            "figure": FIGURES[crossed],
            "limit": round(window.limits[crossed], 1),
            "history_windows": len(window.history),
        }
        minutes = scale.seconds // 60
        if warm:
            centre, spread, _ = ceiling(
                window.history.column(crossed), self.params.k, self.params.min_spread
            )
            typical = math.expm1(centre)
            evidence["baseline_median"] = round(typical, 1)
            evidence["baseline_spread_log"] = round(spread, 3)
            ratio = f"{counts[crossed] / typical:.1f}x its" if typical >= 1 else "against its"
            why = (
                f"{counts[crossed]:,} {FIGURES[crossed]} in {minutes} min, {ratio} "
                f"median of {typical:,.0f} per active window (limit {window.limits[crossed]:,.0f}"
                f" = median + {self.params.k:g} robust sd over {len(window.history)} windows)"
            )
        else:
            why = (
                f"{counts[crossed]:,} {FIGURES[crossed]} in {minutes} min before any baseline "
                f"was learned (warm-up limit {window.limits[crossed]:,.0f})"
            )
        resources = {"api_key": name} if kind == "key" else {}
        if kind == "caller" and event.api_key is not None:
            resources["api_key"] = event.api_key
        if event.model is not None:
            resources["model"] = event.model
        pattern = "sustained sweep"
        if scale is self.params.burst:
            pattern = "burst"
        elif scale is self.params.daily:
            pattern = "daily sweep"
        return Detection(
            detector=self.name,
            alert_type=self.alert_type,
            subject=subject,
            severity=Severity.high,
            title=f"Possible model extraction ({pattern}) by {who} {name}",
            explanation=f"{who.capitalize()} {name} sent {why}.",
            at=event.at,
            resources=resources,
            evidence=evidence,
        )

    def _table(self, subject: str) -> tuple[dict[str, _Subject], str]:
        kind, _, name = subject.partition(":")
        return (self._keys if kind == "key" else self._callers), name

    def export(self, subject: str) -> State | None:
        table, name = self._table(subject)
        state = table.get(name)
        return None if state is None else self._export(state)

    def _export(self, state: _Subject) -> State:
        return {
            "windows": {
                str(scale.seconds): window.history.rows()
                for scale, window in zip(self._scales, state.windows, strict=True)
            }
        }

    def restore(self, subject: str, state: State) -> None:
        kept = _Subject(len(self._scales), self.params.history_windows)
        stored = state.get("windows", {})
        for scale, window in zip(self._scales, kept.windows, strict=True):
            for row in stored.get(str(scale.seconds), []):
                window.history.append(float(row[0]), float(row[1]), float(row[2]))
        table, name = self._table(subject)
        table[name] = kept

    def describe(self, state: State) -> str:
        parts = []
        for seconds, rows in state.get("windows", {}).items():
            if rows:
                typical = math.expm1(median([float(r[0]) for r in rows]))
                parts.append(f"{seconds}s: {len(rows)} windows, median {typical:,.0f} requests")
            else:
                parts.append(f"{seconds}s: warming up")
        return "; ".join(parts)

    def subjects(self) -> list[str]:
        return [f"caller:{c}" for c in self._callers] + [f"key:{k}" for k in self._keys]

    def changed(self) -> set[str]:
        return self._dirty.take()

    def evict(self, now: float, idle: float) -> list[tuple[str, State]]:
        finest = self._finest
        seconds = self._scales[finest].seconds
        last = int((now - idle) // seconds)  # the latest finest window an idle subject had
        dirty = self._dirty.subjects
        final: list[tuple[str, State]] = []
        for kind, table in (("caller", self._callers), ("key", self._keys)):
            for name in [n for n, state in table.items() if state.windows[finest].index < last]:
                state = table.pop(name)
                for scale, window in zip(self._scales, state.windows, strict=True):
                    current = int(now // scale.seconds)
                    if window.index < current:  # ended: its counts join the history
                        self._roll(kind, name, window, current)
                subject = f"{kind}:{name}"
                if subject in dirty:
                    dirty.discard(subject)
                    final.append((subject, self._export(state)))
        self._cooldown.prune(now)
        return final

    def held(self) -> int:
        return len(self._callers) + len(self._keys)

    def holds(self, subject: str) -> bool:
        table, name = self._table(subject)
        return name in table

    def wanted(self, event: TelemetryEvent) -> tuple[str, ...]:
        if event.operation in self._skip:
            return ()
        if self.params.per_key and event.api_key is not None:
            return (f"caller:{event.caller}", f"key:{event.api_key}")
        return (f"caller:{event.caller}",)


def _iso(seconds: float) -> str:
    return (EPOCH + timedelta(seconds=seconds)).isoformat()
