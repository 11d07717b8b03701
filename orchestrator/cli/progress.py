"""Progress of a long command on stderr, so a verify of millions of events is not silence.

One line per update, never more than one a second (the first and the last always), and by
default only when stderr is a terminal: a scheduled run's log gets the result, not a ticker.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO


class Progress:
    """`progress(done, total)` for work counted in events; pass it where a store takes one."""

    def __init__(
        self,
        what: str,
        *,
        stream: IO[str] | None = None,
        every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.clock = clock
        self._last: float | None = None

    def __call__(self, done: int, total: int | None) -> None:
        """`total` None: not known ahead (a filtered export); the caller says when it ends."""
        now = self.clock()
        final = total is not None and done >= total
        if self._last is not None and not final and now - self._last < self.every:
            return
        self._last = now
        if total is None:
            line = f"{self.what}: {done:,} events so far"
        else:
            share = f" ({done / total:.0%})" if total else ""
            line = f"{self.what}: {done:,} of {total:,} events{share}"
        self.stream.write(line + "\n")
        self.stream.flush()


def wanted(flag: bool | None, stream: IO[str] | None = None) -> bool:
    """`--progress`/`--no-progress` when given, else whether `stream` (stderr) is a terminal."""
    if flag is not None:
        return flag
    target = stream if stream is not None else sys.stderr
    return target.isatty()
