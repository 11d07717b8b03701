"""Appends of two checkouts of Firebreak against each other, in the same run.

`bench/audit_store.py` pairs Firebreak with the `eventsourcing` recorder; a change to the
append path is judged better against the code before it, measured the same way at the same
moment (these machines change speed by 2x within an hour). Each side's writer processes
import Firebreak from their own checkout (`git worktree add ../before REV`) and append to a
twin database migrated by this checkout, so only the client code and what it sends differ:
use it for changes that keep the schema.

    .venv/bin/python bench/audit_compare.py ../before     # batches of 1, 10, 100; 1 and 4 writers
    .venv/bin/python bench/audit_compare.py ../before --rounds 6 --writers 4 --batches 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
# Nothing of Firebreak is imported at the top: a writer process re-imports this module before
# it puts its own checkout first on the path, and must import Firebreak from there only.

TOTAL = {1: 1500, 10: 6000, 100: 20000}
"""Events per measurement and batch size: a second or more of appending at today's rates."""


def _writer(
    checkout: str, url: str, seed: int, total: int, batch: int, ready: Any, go: Any, done: Any
) -> None:
    """One writer process, Firebreak imported from `checkout`: connect, wait, append."""
    sys.path.insert(0, checkout)
    from bench.audit_store import fb_append_rate
    from orchestrator.audit import store as store_module
    from orchestrator.db import make_engine

    if not Path(store_module.__file__).resolve().is_relative_to(Path(checkout).resolve()):
        raise RuntimeError(f"Firebreak was imported from {store_module.__file__}, not {checkout}")
    engine = make_engine(url)
    store = store_module.EventStore(engine)
    store.head()
    ready.put(0)
    go.wait()
    fb_append_rate(store, total, batch, seed)
    engine.dispose()
    done.put(total)


def rate(checkout: str, url: str, total: int, batch: int, writers: int, seed: int) -> float:
    """Events/s of `writers` processes appending at once (start-up and connecting not counted)."""
    from bench.audit_store import writers_rate

    args = [(checkout, url, seed + w, total // writers, batch) for w in range(writers)]
    return writers_rate(_writer, args)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per pair")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from bench.audit_store import drop_database, machine, new_database
    from orchestrator.db import upgrade

    before = args.before.resolve()
    if not (before / "orchestrator" / "audit" / "store.py").is_file():
        parser.error(f"{before} is not a Firebreak checkout")
    sides = {"this checkout": str(HERE), f"{before.name}": str(before)}
    workdir = Path(tempfile.mkdtemp())
    urls = {name: new_database("postgresql", workdir) for name in sides}
    print(f"machine: {machine()}")
    print(f"reproduce: .venv/bin/python bench/audit_compare.py {' '.join(sys.argv[1:])}\n")
    print("| writers | batch | this checkout / other (median of rounds) | per-round range |")
    print("| --- | --- | --- | --- |")
    try:
        for url in urls.values():
            upgrade(url)
        for writers in args.writers:
            for batch in args.batches:
                figures: dict[str, list[float]] = {name: [] for name in sides}
                for r in range(args.rounds):
                    names = list(sides) if r % 2 == 0 else list(sides)[::-1]
                    for name in names:
                        seed = 5_000_000 + 100_000 * writers + 1000 * batch + 10 * r
                        total = TOTAL.get(batch, 100 * batch)
                        figure = rate(sides[name], urls[name], total, batch, writers, seed)
                        figures[name].append(figure)
                        print(
                            f"  w{writers} b{batch} r{r + 1} {name}: {figure:,.0f}/s",
                            file=sys.stderr,
                        )
                ours, theirs = figures.values()
                per_round = [a / b for a, b in zip(ours, theirs, strict=True)]
                ratio = statistics.median(ours) / statistics.median(theirs)
                print(
                    f"| {writers} | {batch} | **{ratio:.2f}x** "
                    f"| {min(per_round):.2f} to {max(per_round):.2f} |",
                    flush=True,
                )
    finally:
        for url in urls.values():
            drop_database(url)


if __name__ == "__main__":
    main()
