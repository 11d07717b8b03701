"""Detectors measured, not claimed: precision, recall and time to detect on a seeded stream.

Generates the telemetry stream of `bench/detect_stream.py` (thousands of callers over simulated
days, benign bursts, injected attacks of each kind at three intensities), replays it through
`DetectionEngine` with its default configuration, and matches every detection to the ground
truth: a detection of the attack's kind naming the attacked subject (its caller or key, its
model) between the attack's start and its end plus a grace period is a true positive; anything
else is a false alert. Prints, per detector and intensity, recall, precision, median/p90 time
to detect and false alerts per 10,000 callers per day; the extraction curve (recall against
false alerts over several values of its threshold `k`); events/s on one core beside a baseline
loop that only reads the events, and memory per tracked caller. Then the same stream as
`firebreak detect run` takes it: an evicting engine, batches whose absent baselines are taken
back from a store (a dict here, to measure the engine rather than a database), a save every
`--save-every` events; its detections are compared with the first replay's, and the subjects
it held at most with those it saw. Same seed, same figures.

    .venv/bin/python bench/detect.py                         # 2,000 callers, 14 days
    .venv/bin/python bench/detect.py --callers 10000 --days 28 --sweep 3,4,5,6
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from operator import attrgetter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/detect.py`)
    sys.path.insert(0, str(ROOT))

from bench.detect_stream import INTENSITIES, KINDS, Attack, Stream, StreamSpec, generate  # noqa: E402
from orchestrator.detection.config import DetectionConfig  # noqa: E402
from orchestrator.detection.detectors.extraction import ExtractionParams  # noqa: E402
from orchestrator.detection.engine import Baseline, DetectionEngine  # noqa: E402
from orchestrator.detection.inputs.jsonl import JsonlMapping, jsonl_event  # noqa: E402
from orchestrator.detection.models import Detection, TelemetryEvent  # noqa: E402


@dataclass
class Score:
    """How one replay's detections matched the ground truth."""

    caller_days: float
    detected: dict[Attack, float] = field(default_factory=dict)  # attack -> seconds to detect
    true: Counter[str] = field(default_factory=Counter)  # per detector
    false: Counter[str] = field(default_factory=Counter)
    false_on_attacked: Counter[str] = field(default_factory=Counter)  # wrong kind or window
    false_reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    false_traits: Counter[tuple[str, str]] = field(default_factory=Counter)

    def false_per_10k(self, detector: str) -> float:
        return self.false[detector] / self.caller_days * 10_000

    def precision(self, detector: str) -> float | None:
        total = self.true[detector] + self.false[detector]
        return self.true[detector] / total if total else None

    def recall(self, attacks: Sequence[Attack]) -> tuple[float, dict[str, float]]:
        """The share of `attacks` detected, in all and per variant (burst, sweep)."""
        per_variant = {
            v: sum(a in self.detected for a in attacks if a.variant == v)
            / max(1, sum(a.variant == v for a in attacks))
            for v in ("burst", "sweep")
        }
        return sum(a in self.detected for a in attacks) / max(1, len(attacks)), per_variant


def owner(name: str) -> str:
    """The caller behind a detection's subject or resource: `caller:caller-00042`,
    `key:key-00042` and `key-00042` all name caller 00042 (one key per caller in the stream);
    a model's subject may carry its version (`model:m@v2`)."""
    _, _, bare = (
        name.rpartition(":") if name.startswith(("caller:", "key:", "model:")) else ("", "", name)
    )
    if bare.startswith(("caller-", "key-")):
        return "caller-" + bare.rsplit("-", 1)[1]
    return bare.split("@", 1)[0]


def score(stream: Stream, detections: Iterable[Detection], grace: timedelta) -> Score:
    by_subject: dict[tuple[str, str], list[Attack]] = defaultdict(list)
    attacked: dict[str, list[Attack]] = defaultdict(list)
    for attack in stream.attacks:
        by_subject[(attack.kind, owner(attack.subject))].append(attack)
        attacked[owner(attack.subject)].append(attack)
    result = Score(stream.caller_days)
    for found in detections:
        names = {owner(found.subject), *(owner(v) for v in found.resources.values())}
        if found.detector == "drift":  # its subject is the model; other resources are context
            names = {owner(found.subject), owner(found.resources.get("model", found.subject))}
        hit = next(
            (
                attack
                for name in sorted(names)
                for attack in by_subject.get((found.detector, name), [])
                if attack.start <= found.at <= attack.end + grace
            ),
            None,
        )
        if hit is None:
            result.false[found.detector] += 1
            if any(attacked.get(name) for name in names):
                result.false_on_attacked[found.detector] += 1
            result.false_reasons[(found.detector, _reason(found))] += 1
            traits = stream.traits.get(owner(found.subject), ())
            result.false_traits[(found.detector, ", ".join(traits) or "nothing unusual")] += 1
            continue
        result.true[found.detector] += 1
        delay = (found.at - hit.start).total_seconds()
        result.detected[hit] = min(delay, result.detected.get(hit, delay))
    return result


def _reason(found: Detection) -> str:
    """What crossed the threshold: the figure and window, or the unfamiliar feature."""
    evidence = found.evidence
    if "figure" in evidence:
        return f"{evidence['figure']} in {evidence.get('window_seconds', '?')} s"
    return str(evidence.get("unusual") or evidence.get("metric") or "-")


def replay(
    events: list[TelemetryEvent], config: DetectionConfig
) -> tuple[list[Detection], float, float, DetectionEngine]:
    """Every detection, wall and CPU seconds of the loop, and the engine (holding its state)."""
    engine = DetectionEngine(config)
    observe = engine.observe
    detections: list[Detection] = []
    keep = detections.extend
    wall, cpu = time.perf_counter(), time.process_time()
    for event in events:
        found = observe(event)
        if found:
            keep(found)
    return detections, time.perf_counter() - wall, time.process_time() - cpu, engine


class DictStore:
    """What `BaselineStore` does for the runner (`find`, `save`), in a dict."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, object]] = {}

    def find(self, wanted: Iterable[tuple[str, str]]) -> list[Baseline]:
        return [Baseline(d, s, self.rows[(d, s)]) for d, s in wanted if (d, s) in self.rows]

    def save(self, changed: Iterable[Baseline]) -> None:
        for b in changed:
            self.rows[(b.detector, b.subject)] = b.state


@dataclass
class Evicting:
    """A replay as the runner does it, with eviction: what it found and held."""

    detections: list[Detection]
    wall: float
    cpu: float
    peak: int  # subjects held at most, at a save
    seen: int  # subjects the store holds at the end
    held: int  # subjects held at the end
    evicted: int
    reloaded: int


def replay_evicting(
    events: list[TelemetryEvent], config: DetectionConfig, save_every: int, batch: int = 500
) -> Evicting:
    """The runner's loop over an evicting engine: per batch, the absent baselines back from
    the store, then every event; every `save_every` events a flush into the store."""
    engine = DetectionEngine(config, evict=True)
    store = DictStore()
    observe = engine.observe
    detections: list[Detection] = []
    keep = detections.extend
    peak = reloaded = 0
    since = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        wanted = engine.absent(chunk)
        if wanted:
            reloaded += engine.load(store.find(wanted), missing=True)
        for event in chunk:
            found = observe(event)
            if found:
                keep(found)
        since += len(chunk)
        if since >= save_every:
            since = 0
            store.save(engine.flush())
            peak = max(peak, sum(engine.held().values()))
    store.save(engine.flush())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Evicting(
        detections,
        wall,
        cpu,
        peak,
        len(store.rows),
        sum(engine.held().values()),
        engine.evicted,
        reloaded,
    )


def baseline_loop(events: list[TelemetryEvent]) -> tuple[float, float]:
    """The same loop doing nothing but reading each event: what the engine's cost is beside.
    Wall and CPU seconds."""
    read: Callable[[TelemetryEvent], object] = attrgetter("at")
    wall, cpu = time.perf_counter(), time.process_time()
    for event in events:
        read(event)
    return time.perf_counter() - wall, time.process_time() - cpu


def from_json_lines(events: list[TelemetryEvent], limit: int) -> tuple[int, float]:
    """Events per CPU second from gateway log lines: JSON decode, the JSON Lines input's
    mapping (`jsonl:` in `firebreak detect run`) and the engine, on the first `limit` events."""
    lines = [json.dumps(_record(e)) for e in events[:limit]]
    mapping = JsonlMapping()
    engine = DetectionEngine(DetectionConfig())
    observe, loads = engine.observe, json.loads
    cpu = time.process_time()
    for line in lines:
        observe(jsonl_event(loads(line), mapping))
    return len(lines), time.process_time() - cpu


def write_json_lines(stream: Stream, path: Path) -> None:
    """The stream as the JSON Lines input reads it, and the attacks it holds."""
    with path.open("w") as out:
        for event in stream.events:
            out.write(json.dumps(_record(event)) + "\n")
    truth = [
        {**attack.__dict__, "start": attack.start.isoformat(), "end": attack.end.isoformat()}
        for attack in stream.attacks
    ]
    path.with_name(path.name + ".truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(f"wrote {len(stream.events):,} events to {path} and the ground truth beside it")


def _record(event: TelemetryEvent) -> dict[str, object]:
    """An event as the JSON Lines input reads it with its default mapping."""
    record = {f.name: getattr(event, f.name) for f in fields(event)}
    record["at"] = event.at.isoformat()
    return {k: v for k, v in record.items() if v is not None}


def counting_loop(events: list[TelemetryEvent]) -> float:
    """The least any stateful detector does: count requests per caller in a dict. CPU seconds."""
    counts: dict[str, int] = {}
    get = counts.get
    cpu = time.process_time()
    for event in events:
        counts[event.caller] = get(event.caller, 0) + 1
    return time.process_time() - cpu


def memory_per_caller(spec: StreamSpec) -> tuple[float, int]:
    """Bytes the engine holds per caller after replaying a smaller stream (tracemalloc),
    without eviction: every subject it saw is still held."""
    small = generate(StreamSpec(**{**spec.__dict__, "callers": 200, "attacks": 1}))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _, _, _, engine = replay(small.events, DetectionConfig())
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    subjects = sum(len(detector.subjects()) for detector in engine.detectors)
    return held / small.spec.callers, subjects


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def print_table(stream: Stream, result: Score) -> None:
    print(
        f"{'detector':<11} {'attack':<10} {'intensity':<9} {'recall':>8} {'median ttd':>11} "
        f"{'p90 ttd':>9}"
    )
    cells: dict[tuple[str, str, str], list[Attack]] = defaultdict(list)
    for attack in stream.attacks:
        cells[(attack.kind, attack.variant, attack.intensity)].append(attack)
    for kind in KINDS:
        for (k, variant, intensity), attacks in sorted(
            cells.items(), key=lambda c: (c[0][1], INTENSITIES.index(c[0][2]))
        ):
            if k != kind:
                continue
            delays = [result.detected[a] for a in attacks if a in result.detected]
            found = len(delays)
            med = duration(statistics.median(delays)) if delays else "-"
            p90 = duration(quantile(delays, 0.9)) if delays else "-"
            print(
                f"{kind:<11} {variant:<10} {intensity:<9} {found:>3}/{len(attacks):<4} "
                f"{med:>11} {p90:>9}"
            )
    print()
    print(
        f"{'detector':<11} {'detections':>10} {'true':>6} {'false':>6} {'precision':>9} "
        f"{'false/10k callers/day':>22}  (false on an attacked subject)"
    )
    for kind in KINDS:
        precision = result.precision(kind)
        print(
            f"{kind:<11} {result.true[kind] + result.false[kind]:>10} {result.true[kind]:>6} "
            f"{result.false[kind]:>6} {'-' if precision is None else f'{precision:.3f}':>9} "
            f"{result.false_per_10k(kind):>22.2f}  ({result.false_on_attacked[kind]})"
        )
    if result.false_reasons:
        reasons = "; ".join(
            f"{d}: {why} {n}" for (d, why), n in result.false_reasons.most_common(10)
        )
        print(f"false alerts, what crossed: {reasons}")
        traits = "; ".join(f"{d}: {why} {n}" for (d, why), n in result.false_traits.most_common(10))
        print(f"false alerts, what the subject's benign traffic holds: {traits}")


def extraction_curve(
    stream: Stream, ks: list[float], scales: list[float], grace: timedelta
) -> None:
    """Recall of extraction attacks (bursts and sweeps) against false alerts, over the
    threshold `k` and the windows' floors (`min_requests`, `min_tokens`, `min_distinct`, scaled
    together): the floors, not `k`, are what keeps small subjects quiet, so both are swept."""
    off = {"enabled": False}
    defaults = ExtractionParams()
    print(
        f"{'k':>5} {'floors':>7} {'recall':>7} {'burst':>7} {'sweep':>7} {'false':>6} "
        f"{'false/10k/day':>14}"
    )
    extraction = [a for a in stream.attacks if a.kind == "extraction"]
    for k in ks:
        for scale in scales:
            windows = {
                name: {
                    key: max(1, round(value * scale)) if key.startswith("min_") else value
                    for key, value in getattr(defaults, name).model_dump().items()
                }
                for name in ("burst", "sweep")
            }
            config = DetectionConfig.model_validate(
                {
                    "extraction": {"k": k, **windows},
                    "leaked_key": off,
                    "injection": off,
                    "drift": off,
                }
            )
            detections, _, _, _ = replay(stream.events, config)
            result = score(stream, detections, grace)
            total, recall = result.recall(extraction)
            print(
                f"{k:>5g} {scale:>6g}x {total:>7.2f} {recall['burst']:>7.2f} "
                f"{recall['sweep']:>7.2f} {result.false['extraction']:>6} "
                f"{result.false_per_10k('extraction'):>14.2f}"
            )


OFF = {"enabled": False}


def _daily(floor: int, warmup: int = 3000) -> dict[str, int]:
    """An extraction window of a day, with its floors and warm-up limits."""
    return {
        "seconds": 86_400,
        "min_requests": floor,
        "min_tokens": floor * 1000,
        "min_distinct": floor,
        "warmup_requests": warmup,
        "warmup_tokens": warmup * 1500,
        "warmup_distinct": warmup,
    }


def _six_hours(floor: int) -> dict[str, int]:
    return {**_daily(floor, 2000), "seconds": 21_600}


# Parameter changes measured one detector at a time (docs/benchmarks.md, "What moves it").
EXPERIMENTS: list[tuple[str, str, dict[str, object]]] = [
    ("extraction: sweep window 24 h, min_* 250", "extraction", {"sweep": _daily(250)}),
    ("extraction: sweep window 24 h, min_* 400", "extraction", {"sweep": _daily(400)}),
    ("extraction: sweep window 6 h, min_* 200", "extraction", {"sweep": _six_hours(200)}),
    ("extraction: sweep window 6 h, min_* 120", "extraction", {"sweep": _six_hours(120)}),
    ("injection: window 3600 s, min_hits 5", "injection", {"window_seconds": 3600}),
    ("injection: window 3600 s, min_hits 3", "injection", {"window_seconds": 3600, "min_hits": 3}),
    ("leaked_key: warmup_events 50", "leaked_key", {"warmup_events": 50}),
    ("leaked_key: warmup_events 20", "leaked_key", {"warmup_events": 20}),
    (
        "leaked_key: warmup_events 20, min_events 3",
        "leaked_key",
        {"warmup_events": 20, "min_events": 3},
    ),
    (
        "drift: min_score_delta 0.03, min_rate_delta 0.01",
        "drift",
        {"min_score_delta": 0.03, "min_rate_delta": 0.01},
    ),
]


def only(detector: str, params: dict[str, object]) -> DetectionConfig:
    """The configuration with one detector, on `params`, and the others off."""
    sections: dict[str, object] = {name: OFF for name in KINDS}
    sections[detector] = params
    return DetectionConfig.model_validate(sections)


def experiments(stream: Stream, grace: timedelta) -> None:
    """Each change in EXPERIMENTS, then a third, daily extraction window beside the default two
    (the engine has two scales, so: the union of two replays, one alert per subject per hour)."""
    for name, detector, params in EXPERIMENTS:
        detections, _, _, _ = replay(stream.events, only(detector, params))
        result = score(stream, detections, grace)
        attacks = [a for a in stream.attacks if a.kind == detector]
        found = " / ".join(
            f"{sum(a in result.detected for a in attacks if a.intensity == i)}"
            f"/{sum(a.intensity == i for a in attacks)}"
            for i in INTENSITIES
        )
        variants = ""
        if detector == "extraction":
            variants = (
                " ("
                + ", ".join(
                    f"{v} {sum(a in result.detected for a in attacks if a.variant == v)}"
                    f"/{sum(a.variant == v for a in attacks)}"
                    for v in ("burst", "sweep")
                )
                + ")"
            )
        print(
            f"{name:<52} low/medium/high {found:<18} false {result.false[detector]:>4} "
            f"({result.false_per_10k(detector):.2f}/10k/day){variants}"
        )
    defaults, _, _, _ = replay(stream.events, only("extraction", {}))
    extraction = [a for a in stream.attacks if a.kind == "extraction"]
    for floor in (250, 300, 400):
        daily, _, _, _ = replay(stream.events, only("extraction", {"sweep": _daily(floor)}))
        seen: set[tuple[str, int]] = set()
        union = []
        for detection in sorted(defaults + daily, key=attrgetter("at")):
            hour = (detection.subject, int(detection.at.timestamp() // 3600))
            if hour not in seen:
                seen.add(hour)
                union.append(detection)
        result = score(stream, union, grace)
        total, recall = result.recall(extraction)
        print(
            f"extraction: defaults + a daily window, min_* {floor:<4}     recall {total:.2f} "
            f"(burst {recall['burst']:.2f}, sweep {recall['sweep']:.2f}), false "
            f"{result.false['extraction']} ({result.false_per_10k('extraction'):.2f}/10k/day)"
        )


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--attacks", type=int, default=10, help="per kind and intensity")
    parser.add_argument("--grace-minutes", type=float, default=60.0)
    parser.add_argument(
        "--json-lines", type=int, default=200_000, help="events replayed from JSON Lines"
    )
    parser.add_argument(
        "--save-every",
        type=int,
        default=200_000,
        help="events between two saves in the replay as `firebreak detect run` does it (it "
        "saves every 10 s: 200,000 events at the 20,000 events/s target)",
    )
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="also measure the parameter changes of docs/benchmarks.md, one detector at a time",
    )
    parser.add_argument(
        "--write-jsonl",
        type=Path,
        help="also write the stream here (for `firebreak detect run --input jsonl:FILE`), "
        "and its ground truth beside it (FILE.truth.json)",
    )
    parser.add_argument(
        "--sweep", default="2,4,6", help="values of extraction.k for the curve ('' for none)"
    )
    parser.add_argument(
        "--floors",
        default="1,0.5,0.25,0.125",
        help="scales of the extraction windows' min_* floors for the curve",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python {' '.join(sys.argv)}")
    spec = StreamSpec(callers=args.callers, days=args.days, seed=args.seed, attacks=args.attacks)
    started = time.perf_counter()
    stream = generate(spec)
    print(
        f"stream: {len(stream.events):,} events, {spec.callers:,} callers, {spec.days} days "
        f"(seed {spec.seed}, generated in {time.perf_counter() - started:.1f} s); "
        f"{len(stream.attacks)} attacks; benign: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stream.benign.items())
    )
    if args.write_jsonl is not None:
        write_json_lines(stream, args.write_jsonl)
    grace = timedelta(minutes=args.grace_minutes)

    gc.collect()
    base_wall, base_cpu = baseline_loop(stream.events)
    counting_cpu = counting_loop(stream.events)
    gc.collect()
    detections, wall, cpu, engine = replay(stream.events, DetectionConfig())
    n = len(stream.events)
    # One process is one core; on a shared machine CPU time is that core's share, wall time
    # includes waiting for it. Both are printed; the target is judged on CPU time.
    print(
        f"\nthroughput (one process, default config): engine {n / cpu:,.0f} events per CPU "
        f"second, {cpu / n * 1e6:.1f} µs CPU per event ({n / wall:,.0f} events/s wall, "
        f"{cpu:.1f} s CPU in {wall:.1f} s); baseline loop that only reads the events: "
        f"{n / max(base_cpu, 1e-9):,.0f} per CPU second ({n / base_wall:,.0f}/s wall); "
        f"engine / baseline CPU: {cpu / max(base_cpu, 1e-9):,.0f}x; a loop counting requests "
        f"per caller in a dict: {n / max(counting_cpu, 1e-9):,.0f} per CPU second (engine / "
        f"counting: {cpu / max(counting_cpu, 1e-9):,.1f}x)"
    )
    lines, lines_cpu = from_json_lines(stream.events, args.json_lines)
    print(
        f"from JSON Lines (decode, map, detect; first {lines:,} events): "
        f"{lines / max(lines_cpu, 1e-9):,.0f} events per CPU second"
    )
    held, subjects = memory_per_caller(spec)
    print(
        f"memory: {held / 1024:.1f} KiB per caller held by the engine after 200 callers x "
        f"{spec.days} days ({subjects} subjects across detectors; tracemalloc)"
    )
    del engine
    gc.collect()
    evicting = replay_evicting(stream.events, DetectionConfig(), args.save_every)
    same = sorted((d.fingerprint, d.at) for d in evicting.detections) == sorted(
        (d.fingerprint, d.at) for d in detections
    )
    print(
        f"as `firebreak detect run` (evicting engine, baselines back from a store per batch of "
        f"500, a save every {args.save_every:,} events): {n / evicting.cpu:,.0f} events per "
        f"CPU second ({evicting.cpu:.1f} s CPU in {evicting.wall:.1f} s); subjects held at "
        f"most {evicting.peak:,} (at the end {evicting.held:,}) of {evicting.seen:,} stored; "
        f"{evicting.evicted:,} evictions, {evicting.reloaded:,} baselines reloaded; "
        f"detections {len(evicting.detections)} vs {len(detections)} without eviction"
        f"{' (the same)' if same else ' (DIFFERENT: see below)'}"
    )
    if not same:
        print("\ndetections with eviction:")
        print_table(stream, score(stream, evicting.detections, grace))

    print(f"\ndetections (default config, grace {args.grace_minutes:g} min after an attack):")
    result = score(stream, detections, grace)
    print_table(stream, result)
    ks = [float(k) for k in args.sweep.split(",") if k.strip()]
    scales = [float(f) for f in args.floors.split(",") if f.strip()] or [1.0]
    if ks:
        print(
            "\nextraction curve: recall vs false alerts per 10,000 callers per day, by k and "
            "by the windows' floors (1x = the defaults)"
        )
        extraction_curve(stream, ks, scales, grace)
    if args.experiments:
        print("\nparameter changes, one detector at a time (the others off):")
        experiments(stream, grace)


if __name__ == "__main__":
    main()
