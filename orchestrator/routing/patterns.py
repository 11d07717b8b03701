"""Regular expressions in routes and suppression windows, matched in linear time.

Their subject is alert text, which the attacker writes: a backtracking engine (Python's `re`)
lets one pattern such as ``(a+)+$`` and a long crafted value pin an API replica's CPU for
minutes. RE2 guarantees time linear in the input, as Alertmanager's own matchers (Go's RE2)
do; it refuses lookaround and backreferences, which is said when a pattern is loaded.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

import re2


class Match(Protocol):
    def group(self, index: int = 0, /) -> str | None: ...


class Pattern(Protocol):
    groups: int

    def fullmatch(self, text: str) -> Match | None: ...


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported to its author, not to stderr


@cache
def compile_pattern(pattern: str) -> Pattern:
    """`pattern` compiled once per process; ValueError naming it when RE2 refuses it."""
    try:
        compiled: Pattern = re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(
            f"invalid regular expression {pattern!r}: {reason}"
            " (RE2 syntax: no lookaround or backreferences)"
        ) from None
    return compiled
