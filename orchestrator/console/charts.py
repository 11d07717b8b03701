"""Small SVG bar charts drawn on the server: no chart library, no CDN, nothing for CSP to allow.

Every text node is XML-escaped here, and the result is the only markup the templates insert
unescaped; colours come from CSS classes in the console's stylesheet, not inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

ROW_HEIGHT = 26
LABEL_WIDTH = 130
BAR_WIDTH = 300
VALUE_WIDTH = 90


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str  # the value as people read it ("3m 05s", "12")
    kind: str = "primary"  # CSS class suffix: primary, secondary


def bar_chart(title: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars scaled to the largest value; a missing value draws no bar, says `—`."""
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = ROW_HEIGHT * max(len(bars), 1) + 8
    largest = max((b.value for b in bars if b.value), default=0.0)
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, bar in enumerate(bars):
        y = 4 + index * ROW_HEIGHT
        middle = y + ROW_HEIGHT / 2
        length = BAR_WIDTH * bar.value / largest if bar.value and largest else 0.0
        parts.append(
            f'<text class="chart-label" x="{LABEL_WIDTH - 8}" y="{middle:.1f}" '
            f'text-anchor="end" dominant-baseline="middle">{escape(bar.label)}</text>'
        )
        parts.append(
            f'<rect class="chart-bar chart-{escape(bar.kind)}" x="{LABEL_WIDTH}" y="{y + 4}" '
            f'width="{length:.1f}" height="{ROW_HEIGHT - 8}" rx="2"/>'
        )
        parts.append(
            f'<text class="chart-value" x="{LABEL_WIDTH + length + 6:.1f}" y="{middle:.1f}" '
            f'dominant-baseline="middle">{escape(bar.text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
