"""How long `firebreak CMD --help` takes to start, against bare Python and against importing
every command module (what each command paid before the root group imported lazily).

Each figure is the median wall time of fresh interpreters, the three kinds interleaved in
every round so a machine that changes speed moves them together; compare the ratios.

    .venv/bin/python bench/cli_startup.py
    .venv/bin/python bench/cli_startup.py --rounds 15 decide "incidents show" "audit verify"
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

EVERY_MODULE = (
    "from orchestrator.cli.main import COMMANDS, app; import typer;"
    " g = typer.main.get_command(app); c = typer.Context(g);"
    " [g.get_command(c, name) for name in COMMANDS]"
)
"""Python importing and building every command, as the root did before it imported lazily."""


def seconds(argv: Sequence[str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "commands",
        nargs="*",
        default=["", "decide", "incidents show", "db upgrade"],
        help="sub-commands to time; '' is the root's own --help",
    )
    parser.add_argument("--rounds", type=int, default=9, help="fresh interpreters per figure")
    args = parser.parse_args(argv)
    kinds = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "every command module": [sys.executable, "-c", EVERY_MODULE],
        **{
            " ".join(["firebreak", *command.split(), "--help"]): [
                sys.executable,
                "-c",
                "from orchestrator.cli.main import main; main()",
                *command.split(),
                "--help",
            ]
            for command in args.commands
        },
    }
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(args.rounds):
        for name, command in kinds.items():
            samples[name].append(seconds(command))
    every = statistics.median(samples["every command module"])
    print(f"CLI start-up, median of {args.rounds} fresh interpreters per row")
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python"
        f" {platform.python_version()}; load average at the end"
        f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"reproduce: .venv/bin/python bench/cli_startup.py {shlex.join(sys.argv[1:])}".rstrip())
    print()
    print("| what starts | seconds (median) | / every command module |")
    print("| --- | --- | --- |")
    for name, found in samples.items():
        median = statistics.median(found)
        print(f"| {name} | {median:.2f} | {median / every:.2f} |")


if __name__ == "__main__":
    main()
