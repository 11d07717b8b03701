"""Process-tree inspection through /proc, to prove nothing is left behind after a stop."""

from __future__ import annotations

import os
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ")".
    return stat[stat.rindex(")") + 2 :].split()


def alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def _live_where(field: int, value: int) -> set[int]:
    """Live processes whose stat field `field` (after the state: 1 parent, 2 group) is `value`."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[0] != "Z" and int(fields[field]) == value:
                found.add(int(entry))
    return found


def children(pid: int) -> set[int]:
    """Live direct children of `pid`."""
    return _live_where(1, pid)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        for child in children(frontier.pop()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def in_group(pgid: int) -> set[int]:
    """Live processes whose process group is `pgid` (a detached server keeps its group)."""
    return _live_where(2, pgid)
