"""Metrics each process counts in memory: provider calls, ledger appends, witness publishes,
detection state.

Everything about incidents is computed at scrape time from the database
(`orchestrator/api/metrics.py`); these are the figures only the process that did the work
knows, so each process (API replica, worker) serves its own, and a dashboard sums them over
processes. They are created with `registry=None` and registered by whoever serves them
(`process_registry`, the API's registry), so one object is counted once however many registries
show it. Labels are bounded: provider names, operation names, witness kinds and detector names
come from code and configuration, never from an alert or a telemetry event.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PROVIDER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LEDGER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

PROVIDER_CALL_SECONDS = Histogram(
    "firebreak_provider_call_seconds",
    "Duration of each call to a provider (the system an action touches), by provider and "
    "operation, failures included.",
    ["provider", "action"],
    buckets=PROVIDER_BUCKETS,
    registry=None,
)
PROVIDER_ERRORS = Counter(
    "firebreak_provider_errors",
    "Provider calls that raised, by provider and operation.",
    ["provider", "action"],
    registry=None,
)
LEDGER_APPEND_SECONDS = Histogram(
    "firebreak_audit_append_seconds",
    "Duration of each append call to the audit ledger in this process (`append` or a group "
    "commit's `append_many`), conflicts included.",
    buckets=LEDGER_BUCKETS,
    registry=None,
)

WITNESS_PUBLISHES = Counter(
    "firebreak_witness_publishes",
    "Checkpoint notes published to a witness by the scheduled checkpoint in this process, by "
    "witness kind (file, s3, http) and outcome (ok, failed); a failed one is retried.",
    ["kind", "outcome"],
    registry=None,
)

DETECT_SUBJECTS = Gauge(
    "firebreak_detect_subjects",
    "Subjects (callers, keys, models) whose state the detection engine of this process holds "
    "in memory, by detector, as of its latest baseline save; idle ones are evicted.",
    ["detector"],
    registry=None,
)
DETECT_EVICTED = Counter(
    "firebreak_detect_evicted_subjects",
    "Idle subjects the detection engine of this process dropped from memory (their baselines "
    "saved), all detectors.",
    registry=None,
)

IN_PROCESS = (
    PROVIDER_CALL_SECONDS,
    PROVIDER_ERRORS,
    LEDGER_APPEND_SECONDS,
    WITNESS_PUBLISHES,
    DETECT_SUBJECTS,
    DETECT_EVICTED,
)


@contextmanager
def timed_append() -> Iterator[None]:
    """One monotonic clock pair and one observe around a ledger append: nothing else."""
    start = time.perf_counter()
    try:
        yield
    finally:
        LEDGER_APPEND_SECONDS.observe(time.perf_counter() - start)


def process_registry() -> CollectorRegistry:
    """The in-process metrics alone: what a worker serves (it has no projection to read)."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in IN_PROCESS:
        registry.register(collector)
    return registry
