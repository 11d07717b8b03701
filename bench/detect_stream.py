"""A seeded, realistic AI-gateway telemetry stream with ground truth, for `bench/detect.py`.

Detectors are easy to make look good on a stream of identical, steady callers. This one is
built to be hard in the ways production traffic is: per-caller rates drawn from a heavy-tailed
(log-normal) distribution, business-hours and weekend patterns in each caller's own time zone
beside 24/7 services, nightly and weekly batch jobs that run far above a caller's usual rate
over distinct inputs, a gateway outage whose clients retry in a storm, callers whose traffic
grows for weeks, people who travel (a new network for a day) and offices that change address,
guardrails that sometimes flag benign prompts, and model deployments that do not drift beside
ones that do. Attacks are injected on top, each with its ground truth (kind, variant,
intensity, subject, window), at several intensities:

- extraction `burst`: an hour of hundreds to thousands of requests, far above the caller's own
  rate, every input distinct;
- extraction `sweep`: low and slow, two days at tens to hundreds of requests an hour on top of
  the caller's own traffic, flat day and night, every input distinct (coverage of the input
  space grows while the rate stays below any burst limit);
- leaked key: the key used from a network and an agent identity it never had, at the
  owner's night;
- injection campaign: guardrail findings and injection markers (canary hits at the highest
  intensity) repeated by one caller within an hour;
- output drift: a model version deployed whose evaluation scores fall and refusals rise.

Time is simulated (days from a fixed epoch), never wall time. Every random draw comes from a
`random.Random` seeded by the stream seed and the caller, so the same seed gives the same
stream, event for event, and a caller's benign traffic does not change when attacks are added.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from orchestrator.detection.models import TelemetryEvent
from tests.detection.streams import poisson

EPOCH = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
HOUR = 3600.0
DAY = 24 * HOUR
INTENSITIES = ("low", "medium", "high")

# What each attack kind is at each intensity (see `Attack`); the figures say what is injected.
# Copying a model takes thousands of queries: an extraction is sized in requests an hour, and
# at least a multiple of the caller's own mean hourly rate (a heavy caller's attack is bigger).
BURST_PER_HOUR = {"low": 300.0, "medium": 1000.0, "high": 3000.0}  # for one hour
BURST_MULTIPLE = {"low": 10.0, "medium": 30.0, "high": 100.0}
SWEEP_PER_HOUR = {"low": 30.0, "medium": 80.0, "high": 200.0}  # on top of its own traffic
SWEEP_MULTIPLE = {"low": 2.0, "medium": 4.0, "high": 8.0}
SWEEP_HOURS = 48
LEAK_REQUESTS = {"low": 3, "medium": 20, "high": 150}  # from the new network, within 2 hours
INJECTION_HITS = {"low": 3, "medium": 10, "high": 30}  # findings/markers within one hour
DRIFT_SCORE_DROP = {"low": 0.04, "medium": 0.10, "high": 0.25}  # mean evaluation score
DRIFT_REFUSAL_RISE = {"low": 0.01, "medium": 0.04, "high": 0.15}  # refusal rate, absolute

KINDS = ("extraction", "leaked_key", "injection", "drift")
AGENTS = (
    "support-assistant",
    "search-copilot",
    "notebook",
    "crm-agent",
    "doc-summariser",
    "code-review-bot",
    "ticket-triage",
    "etl-enricher",
)
TIME_ZONES = (-8.0, -5.0, 0.0, 1.0, 2.0, 5.5, 8.0, 9.0)
INJECTION_MARKERS = ("ignore-previous-instructions", "system-prompt-request", "tool-override")
CANARY = "canary:system-prompt-7f3a"
GUARDRAIL_FALSE_POSITIVE = 0.0005  # share of benign requests a guardrail flags anyway
SCORED_SHARE = 0.2  # share of requests an online evaluator scores


@dataclass(frozen=True)
class Attack:
    """One injected attack: a detection of `kind` naming `subject` between `start` and `end`
    (plus the bench's grace period) detects it; `events` is how many requests it added."""

    kind: str
    variant: str
    intensity: str
    subject: str
    start: datetime
    end: datetime
    events: int


@dataclass(frozen=True)
class ModelPlan:
    """A served model: its baseline quality and, if it is redeployed, when and how it changes."""

    name: str
    score_mean: float
    refusal_rate: float
    deploy_at: float | None = None  # seconds from the epoch
    score_drop: float = 0.0
    refusal_rise: float = 0.0

    def version_at(self, t: float) -> str:
        return "v2" if self.deploy_at is not None and t >= self.deploy_at else "v1"

    def quality_at(self, t: float) -> tuple[float, float]:
        if self.deploy_at is not None and t >= self.deploy_at:
            return self.score_mean - self.score_drop, self.refusal_rate + self.refusal_rise
        return self.score_mean, self.refusal_rate


@dataclass
class Caller:
    """A caller's habits; its benign traffic is drawn from these and its own seed only."""

    index: int
    name: str
    api_key: str
    networks: list[str]
    agent: str
    models: list[ModelPlan]
    service: bool  # a 24/7 service rather than people in office hours
    tz: float
    daily_rate: float
    input_tokens: float
    output_tokens: float
    repeat_share: float  # share of requests that repeat an earlier input
    batch: tuple[float, float, float, str] | None = None  # UTC hour, minutes, multiple, cadence
    growth: float = 1.0  # traffic multiple reached by the end of the stream
    roams_on: int | None = None  # a day spent on a hotel network
    moves_on: int | None = None  # the day its office network changes for good
    digests: list[str] = field(default_factory=list)

    @property
    def hourly_rate(self) -> float:
        return self.daily_rate / 24.0


@dataclass(frozen=True)
class StreamSpec:
    """What to generate; `attacks` is the number of attacks per kind, variant and intensity."""

    callers: int = 2000
    days: int = 14
    seed: int = 20
    attacks: int = 10
    warmup_days: float = 3.0
    median_daily_rate: float = 10.0
    rate_sigma: float = 1.3


@dataclass
class Stream:
    spec: StreamSpec
    events: list[TelemetryEvent]
    attacks: list[Attack]
    models: list[ModelPlan]
    benign: dict[str, int]  # how many of each benign pattern the stream holds
    traits: dict[str, tuple[str, ...]]  # caller or model -> its benign patterns ("" if none)

    @property
    def caller_days(self) -> float:
        return self.spec.callers * self.spec.days


def generate(spec: StreamSpec) -> Stream:
    """The whole stream, time-ordered, and its ground truth."""
    root = random.Random(f"firebreak-detect/{spec.seed}")
    models = _models(spec, root)
    callers = [_caller(spec, i, models) for i in range(spec.callers)]
    outage = spec.days * 0.6 * DAY + 14 * HOUR  # the gateway outage, then a retry storm
    events: list[TelemetryEvent] = []
    for caller in callers:
        rng = random.Random(f"{spec.seed}/caller/{caller.index}")
        events.extend(_benign(spec, caller, rng, outage))
    attacks: list[Attack] = []
    attack_rng = random.Random(f"{spec.seed}/attacks")
    victims = attack_rng.sample(callers, min(len(callers), 4 * len(INTENSITIES) * spec.attacks))
    for n, caller in enumerate(victims):
        variant = ("burst", "sweep", "leak", "injection")[n % 4]
        intensity = INTENSITIES[(n // 4) % len(INTENSITIES)]
        made, attack = _attack(spec, caller, variant, intensity, attack_rng)
        events.extend(made)
        attacks.append(attack)
    for plan in models:
        if plan.deploy_at is not None and (plan.score_drop or plan.refusal_rise):
            attacks.append(_drift_truth(spec, plan))
    events.sort(key=attrgetter("at"))
    benign = {
        "batch_jobs": sum(1 for c in callers if c.batch),
        "growing_callers": sum(1 for c in callers if c.growth > 1.0),
        "roaming_callers": sum(1 for c in callers if c.roams_on is not None),
        "moved_callers": sum(1 for c in callers if c.moves_on is not None),
        "retry_storm_errors": sum(1 for e in events if e.finish_reason == "error"),
        "benign_deployments": sum(
            1 for m in models if m.deploy_at is not None and not m.score_drop
        ),
    }
    retried = {e.caller for e in events if e.finish_reason == "error"}
    traits = {c.name: _traits(c, c.name in retried) for c in callers}
    for m in models:
        traits[m.name] = ("redeployed",) if m.deploy_at is not None and not m.score_drop else ()
    return Stream(spec, events, attacks, models, benign, traits)


def _traits(caller: Caller, retried: bool) -> tuple[str, ...]:
    """The benign patterns in a caller's traffic, to say what a false alert was about."""
    found = [
        name
        for name, present in (
            ("batch job", caller.batch is not None),
            ("growing", caller.growth > 1.0),
            ("roaming", caller.roams_on is not None),
            ("moved office", caller.moves_on is not None),
            ("retry storm", retried),
            ("heavy caller", caller.daily_rate > 200),
            ("service", caller.service),
        )
        if present
    ]
    return tuple(found)


def _models(spec: StreamSpec, rng: random.Random) -> list[ModelPlan]:
    """Two drifting deployments per intensity, three that change nothing, three never redeployed."""
    plans = []
    for n, intensity in enumerate(i for i in INTENSITIES for _ in range(2)):
        plans.append(
            ModelPlan(
                f"model-drift-{intensity}-{n % 2}",
                rng.uniform(0.78, 0.9),
                rng.uniform(0.005, 0.03),
                _deploy_time(spec, rng),
                DRIFT_SCORE_DROP[intensity],
                DRIFT_REFUSAL_RISE[intensity],
            )
        )
    for n in range(3):
        plans.append(
            ModelPlan(
                f"model-redeployed-{n}",
                rng.uniform(0.78, 0.9),
                rng.uniform(0.005, 0.03),
                _deploy_time(spec, rng),
            )
        )
    for n in range(3):
        plans.append(
            ModelPlan(f"model-stable-{n}", rng.uniform(0.78, 0.9), rng.uniform(0.005, 0.03))
        )
    return plans


def _deploy_time(spec: StreamSpec, rng: random.Random) -> float:
    low = max(spec.warmup_days, spec.days * 0.4)
    return rng.uniform(low, max(low, spec.days * 0.7)) * DAY


def _caller(spec: StreamSpec, index: int, models: list[ModelPlan]) -> Caller:
    rng = random.Random(f"{spec.seed}/profile/{index}")
    service = rng.random() < 0.4
    count = 1 if service else rng.choices((1, 2, 3), (70, 25, 5))[0]
    networks = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24" for _ in range(count)]
    served = [rng.choice(models)]
    if rng.random() < 0.1:
        served.append(rng.choice(models))
    rate = min(spec.median_daily_rate * math.exp(rng.gauss(0.0, spec.rate_sigma)), 20_000.0)
    caller = Caller(
        index=index,
        name=f"caller-{index:05d}",
        api_key=f"key-{index:05d}",
        networks=networks,
        agent=rng.choice(AGENTS),
        models=served,
        service=service,
        tz=rng.choice(TIME_ZONES),
        daily_rate=rate,
        input_tokens=math.exp(rng.gauss(math.log(400), 0.8)),
        output_tokens=math.exp(rng.gauss(math.log(200), 0.7)),
        repeat_share=rng.uniform(0.05, 0.6),
    )
    if service and rng.random() < 0.2:
        cadence = rng.choice(("daily", "weekly"))
        caller.batch = (rng.uniform(0, 24), rng.uniform(20, 60), rng.uniform(5, 20), cadence)
    if rng.random() < 0.03:
        caller.growth = rng.uniform(2.0, 3.0)
    if not service and rng.random() < 0.05:
        caller.roams_on = rng.randrange(1, spec.days)
    if rng.random() < 0.02:
        caller.moves_on = rng.randrange(1, spec.days)
    return caller


def _shape(caller: Caller, t: float) -> float:
    """Relative rate at `t`: office hours and quiet weekends for people, near flat for services."""
    local = t / HOUR + caller.tz
    hour = local % 24
    weekday = int(local // 24) % 7  # the epoch is a Monday
    if caller.service:
        return (1.0 + 0.3 * math.sin((hour - 8) / 24 * 2 * math.pi)) * (
            0.85 if weekday >= 5 else 1.05
        )
    office = 0.08 + 2.6 * math.exp(-(((hour - 13.5) / 3.2) ** 2))
    return office * (0.25 if weekday >= 5 else 1.3)


def _benign(
    spec: StreamSpec, caller: Caller, rng: random.Random, outage: float
) -> Iterator[TelemetryEvent]:
    hours = spec.days * 24
    for h in range(hours):
        start = h * HOUR
        growth = 1.0 + (caller.growth - 1.0) * h / hours
        lam = caller.hourly_rate * _shape(caller, start + HOUR / 2) * growth
        for _ in range(poisson(rng, lam)):
            t = start + rng.random() * HOUR
            if not (outage <= t < outage + 1800 and rng.random() < 0.6):
                yield _request(caller, rng, t)
                continue
            # the gateway answers with errors; the client retries the same input, backing off
            yield _request(caller, rng, t, finish="error")
            tries = rng.randint(3, 8)
            for n in range(tries):
                finish = "error" if n < tries - 1 else None
                yield _request(caller, rng, t + 2.0**n, repeat=True, finish=finish)
    if caller.batch is not None:
        at_hour, minutes, multiple, cadence = caller.batch
        days = range(spec.days) if cadence == "daily" else range(rng.randrange(7), spec.days, 7)
        for day in days:
            begin = day * DAY + at_hour * HOUR
            count = max(20, round(caller.hourly_rate * multiple * minutes / 60))
            for _ in range(count):  # a batch over a dataset: distinct inputs, one after another
                yield _request(caller, rng, begin + rng.random() * minutes * 60, fresh=True)


def _network(caller: Caller, rng: random.Random, t: float) -> str:
    day = int(t // DAY)
    if caller.roams_on == day:
        return f"100.64.{caller.index % 256}.0/24"  # a hotel's carrier-grade NAT
    if caller.moves_on is not None and day >= caller.moves_on:
        return f"172.16.{caller.index % 256}.0/24"
    return rng.choice(caller.networks)


def _request(
    caller: Caller,
    rng: random.Random,
    t: float,
    *,
    repeat: bool = False,
    fresh: bool = False,
    finish: str | None = None,
    network: str | None = None,
    agent: str | None = None,
    finding: str | None = None,
    marker: str | None = None,
) -> TelemetryEvent:
    plan = caller.models[0] if len(caller.models) == 1 or rng.random() < 0.8 else caller.models[1]
    digests = caller.digests
    if digests and (repeat or (not fresh and rng.random() < caller.repeat_share)):
        digest = digests[-1] if repeat else rng.choice(digests[-200:])
    else:
        digest = f"{rng.getrandbits(64):016x}"
        digests.append(digest)
        if len(digests) > 400:
            del digests[:200]
    score_mean, refusal_rate = plan.quality_at(t)
    failed = finish == "error"
    refused = not failed and rng.random() < refusal_rate
    if finding is None and marker is None and rng.random() < GUARDRAIL_FALSE_POSITIVE:
        finding = "prompt_injection"
    return TelemetryEvent(
        at=EPOCH + timedelta(seconds=t),
        caller=caller.name,
        api_key=caller.api_key,
        network=network or _network(caller, rng, t),
        agent=agent or caller.agent,
        model=plan.name,
        model_version=plan.version_at(t),
        operation="chat",
        input_tokens=max(1, round(caller.input_tokens * math.exp(rng.gauss(0, 0.5)))),
        output_tokens=(
            0 if refused or failed else max(1, round(caller.output_tokens * rng.uniform(0.3, 1.7)))
        ),
        input_digest=digest,
        finding=finding,
        marker=marker,
        score=(
            min(1.0, max(0.0, rng.gauss(score_mean, 0.08)))
            if not failed and rng.random() < SCORED_SHARE
            else None
        ),
        finish_reason=finish or ("content_filter" if refused else "stop"),
        refused=refused,
    )


def _attack_start(spec: StreamSpec, rng: random.Random, hours: float) -> float:
    """After the warm-up, and early enough for the attack to end inside the stream."""
    latest = max(spec.warmup_days * DAY, spec.days * DAY - hours * HOUR - HOUR)
    return rng.uniform(spec.warmup_days * DAY, latest)


def _attack(
    spec: StreamSpec, caller: Caller, variant: str, intensity: str, rng: random.Random
) -> tuple[list[TelemetryEvent], Attack]:
    own = random.Random(f"{spec.seed}/attack/{caller.index}")
    made: list[TelemetryEvent] = []
    if variant == "burst":
        kind, subject, hours = "extraction", caller.name, 1.0
        start = _attack_start(spec, rng, hours)
        count = round(
            max(BURST_PER_HOUR[intensity], caller.hourly_rate * BURST_MULTIPLE[intensity])
        )
        times = sorted(start + own.random() * HOUR for _ in range(count))
        made = [_request(caller, own, t, fresh=True) for t in times]
    elif variant == "sweep":
        kind, subject, hours = "extraction", caller.name, float(SWEEP_HOURS)
        start = _attack_start(spec, rng, hours)
        per_hour = max(SWEEP_PER_HOUR[intensity], caller.hourly_rate * SWEEP_MULTIPLE[intensity])
        for h in range(SWEEP_HOURS):  # a script: flat day and night
            for _ in range(poisson(own, per_hour)):
                t = start + (h + own.random()) * HOUR
                made.append(_request(caller, own, t, fresh=True))
    elif variant == "leak":
        kind, subject, hours = "leaked_key", caller.api_key, 2.0
        night = (3.0 - caller.tz) % 24  # 03:00 in the owner's time zone, in UTC hours
        day = rng.randrange(math.ceil(spec.warmup_days), spec.days - 1)
        start = day * DAY + (night - 1.0) * HOUR
        network = f"198.51.{own.randrange(256)}.0/24"  # networks as the inputs reduce them
        agent = f"python-httpx-{own.randrange(1000)}"
        times = sorted(start + own.random() * hours * HOUR for _ in range(LEAK_REQUESTS[intensity]))
        made = [_request(caller, own, t, fresh=True, network=network, agent=agent) for t in times]
    else:
        kind, subject, hours = "injection", caller.name, 1.0
        start = _attack_start(spec, rng, hours)
        hits = INJECTION_HITS[intensity]
        for n in range(hits):
            t = start + own.random() * HOUR
            if intensity == "high" and n < 2:
                made.append(_request(caller, own, t, marker=CANARY))
            elif own.random() < 0.7:
                made.append(_request(caller, own, t, finding="prompt_injection"))
            else:
                made.append(_request(caller, own, t, marker=own.choice(INJECTION_MARKERS)))
        made.sort(key=attrgetter("at"))
    end = EPOCH + timedelta(seconds=start + hours * HOUR)
    attack = Attack(
        kind, variant, intensity, subject, EPOCH + timedelta(seconds=start), end, len(made)
    )
    return made, attack


def _drift_truth(spec: StreamSpec, plan: ModelPlan) -> Attack:
    assert plan.deploy_at is not None
    intensity = next(i for i in INTENSITIES if DRIFT_SCORE_DROP[i] == plan.score_drop)
    return Attack(
        "drift",
        "deployment",
        intensity,
        plan.name,
        EPOCH + timedelta(seconds=plan.deploy_at),
        EPOCH + timedelta(days=spec.days),
        0,
    )
