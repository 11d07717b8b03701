"""Fault drill, full length: issue #16's production shape under every kind of failure.

Two `firebreak api` and two `firebreak worker` processes, each with its own data dir (only the
key ring file is shared), on a private PostgreSQL cluster and a file-backed Temporal dev
server; providers on loopback servers that count every effect (a LiteLLM gateway, an Airflow
pipeline, moto S3 behind a counting proxy). Incidents are driven through both APIs, two of them
on one key from different APIs, each with an approval and a retraining, while a worker and an
API are killed with SIGKILL and Temporal and PostgreSQL are restarted. Prints what it killed,
when, and what it counted, then each expectation that did not hold (exit 1 if any).

    .venv/bin/python bench/faults.py             # 12 incidents, 8 follow-up alerts/s
    .venv/bin/python bench/faults.py --incidents 2 --rate 4   # what the suite runs

The short version runs in the suite: tests/e2e/test_faults.py. The drill is tests/e2e/drill.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/faults.py`)
    sys.path.insert(0, str(ROOT))

from tests.e2e.drill import Scale, problems, run_drill, summary  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10, help="besides the shared-key pair")
    parser.add_argument(
        "--rate", type=float, default=8.0, help="follow-up alerts/s while the faults happen"
    )
    parser.add_argument("--settle", type=float, default=420.0, help="seconds to close them all")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep every log")
    args = parser.parse_args()
    scale = Scale(
        incidents=args.incidents, followups_per_second=args.rate, settle_seconds=args.settle
    )
    print(f"reproduce: .venv/bin/python bench/faults.py --incidents {args.incidents} "
          f"--rate {args.rate:g}")  # fmt: skip
    if args.keep is not None:
        report = run_drill(args.keep, scale)
    else:
        with tempfile.TemporaryDirectory(prefix="fb-faults-") as tmp:
            report = run_drill(Path(tmp), scale)
    for line in summary(report):
        print(line)
    failed = problems(report)
    print("\nexpectations: " + ("all held" if not failed else f"{len(failed)} did not hold"))
    for problem in failed:
        print(f"  - {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
