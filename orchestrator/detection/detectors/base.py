"""What every detector is to the engine, and the small machinery they share.

A detector keeps per-subject state in memory, answers each event in microseconds, and hands the
engine the baseline state of the subjects it changed so that the engine can persist it. The
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


class Dirty:
    """Subjects whose baseline changed since the engine last collected them."""

    __slots__ = ("subjects",)

    def __init__(self) -> None:
        self.subjects: set[str] = set()

    def take(self) -> set[str]:
        """The changed subjects, forgetting them."""
        taken, self.subjects = self.subjects, set()
        return taken
