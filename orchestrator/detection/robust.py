"""Robust statistics for baselines: median and MAD over a short history of log values.

Request and token counts are heavy-tailed, so baselines are kept on `log1p` of the counts and
summarised by the median and the median absolute deviation (scaled by 1.4826 to estimate a
standard deviation), which one past burst cannot drag the way it drags a mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAD_TO_SIGMA = 1.4826


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def ceiling(history: Sequence[float], k: float, min_spread: float) -> tuple[float, float, float]:
    """`(median, spread, limit)` of a history of log1p values: the limit is the count above
    which a value is `k` robust standard deviations over the median (`spread` never below
    `min_spread`, so a perfectly regular subject does not alert on one extra request)."""
    centre = median(history)
    spread = max(MAD_TO_SIGMA * median([abs(v - centre) for v in history]), min_spread)
    return centre, spread, math.expm1(centre + k * spread)
