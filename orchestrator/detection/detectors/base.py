"""What every detector is to the engine, and the small machinery they share.

A detector keeps per-subject state in memory, answers each event in microseconds, and hands the
engine the baseline state of the subjects it changed so that the engine can persist it. A
subject left idle for longer than the detector's `horizon` (what its windows need, in event
time) can be evicted: its state closed and handed over one last time, then dropped, and taken
back from the store if the subject returns. The
state it exports is plain JSON (lists, numbers, strings): it is stored in
`detector_baselines.state`, shown by `firebreak detect baselines`, and read back by another
replica or after a restart.
"""

from __future__ import annotations

from typing import Any, Protocol

from orchestrator.detection.models import Detection, TelemetryEvent

State = dict[str, Any]


class Detector(Protocol):
    """One behavioural detector. `name` is its configuration key and the alert's detector."""

    name: str
    horizon: float
    """Seconds of event time after a subject's last event beyond which its in-memory state
    holds nothing its stored baseline does not (its windows have ended); `math.inf` when the
    baseline is all there is and only the engine's cap applies."""

    def observe(self, event: TelemetryEvent, t: float) -> Detection | None:
        """Update the subject's state with one event (`t` is `event.at` as epoch seconds,
        computed once by the engine) and say whether it crossed a threshold."""
        ...

    def export(self, subject: str) -> State | None:
        """The subject's persistent baseline as JSON data, or None if it has none."""
        ...

    def restore(self, subject: str, state: State) -> None:
        """Take a baseline stored by `export` (possibly by another replica)."""
        ...

    def subjects(self) -> list[str]:
        """Every subject the detector holds state for."""
        ...

    def describe(self, state: State) -> str:
        """A one-line summary of a stored baseline, for `firebreak detect baselines`."""
        ...

    def changed(self) -> set[str]:
        """The subjects whose baseline changed since the last call (and forget them)."""
        ...

    def evict(self, now: float, idle: float) -> list[tuple[str, State]]:
        """Drop the subjects untouched since `now - idle` (event time), after closing what
        their idle time closed (a window that has ended joins the history; one still open,
        when `idle` is below `horizon`, is lost); return the final baselines of those that
        changed since the last `changed()`, which it will not report again."""
        ...

    def held(self) -> int:
        """How many subjects' state is in memory."""
        ...

    def holds(self, subject: str) -> bool:
        """Whether the subject's state is in memory."""
        ...

    def wanted(self, event: TelemetryEvent) -> tuple[str, ...]:
        """The subjects with a stored baseline this event would update (what to take back
        from the store before observing it, if they are not held)."""
        ...


class Cooldown:
    """One alert per subject per `seconds`: an attack that keeps crossing the threshold raises
    one alert, not one per event (and Firebreak folds the rest by fingerprint anyway)."""

    __slots__ = ("_last", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: dict[str, float] = {}

    def ready(self, subject: str, t: float) -> bool:
        """Whether `subject` may alert at `t`; if so, the cool-down starts now."""
        last = self._last.get(subject)
        if last is not None and t - last < self.seconds:
            return False
        self._last[subject] = t
        return True

    def prune(self, now: float) -> None:
        """Forget cool-downs that have run out, so subjects seen once are not kept forever."""
        expired = [s for s, last in self._last.items() if now - last >= self.seconds]
        for subject in expired:
            del self._last[subject]


class Dirty:
    """Subjects whose baseline changed since the engine last collected them."""

    __slots__ = ("subjects",)

    def __init__(self) -> None:
        self.subjects: set[str] = set()

    def take(self) -> set[str]:
        """The changed subjects, forgetting them."""
        taken, self.subjects = self.subjects, set()
        return taken
