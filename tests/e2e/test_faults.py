"""Issue #16's fault test, short: two APIs and two workers, each with its own data dir, on a
private PostgreSQL cluster and a file-backed Temporal dev server; a worker and an API killed
with SIGKILL, Temporal and PostgreSQL restarted while alerts and approvals are in flight.

Then nothing may be lost or done twice: every incident closes, each effect arrived exactly
once at the server that carried it out, the guard let one of the two incidents sharing a key
revoke it, the ledger holds each accepted alert once with gap-free positions and verifies.
The drill itself is `tests/e2e/drill.py`; `bench/faults.py` runs it longer and prints it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.drill import Scale, problems, run_drill, summary

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_nothing_is_lost_or_done_twice_when_every_process_fails(tmp_path: Path) -> None:
    report = run_drill(tmp_path, Scale(incidents=2, followups_per_second=4, settle_seconds=240))
    counted = "\n".join(summary(report))
    assert report.deliveries and report.incidents, counted
    assert problems(report) == [], counted
    # The drill saw the faults it is about: some sender met a dead API or a stopped server and
    # got its alert in on a retry.
    assert any(d.retried_after_failure and d.accepted for d in report.deliveries), counted
    # Senders that gave up on an answer the API went on to give got in on a retry (the webhook
    # id answers the first response again; `problems` counted each alert once in the ledger).
    assert any(d.answers[0] == "ReadTimeout" and d.accepted for d in report.deliveries), counted
