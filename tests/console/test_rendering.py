"""The console's pure parts: SVG charts escape their text, percentiles, durations, and the
sign-in redirect never leaves the console."""

from __future__ import annotations

import pytest

from orchestrator.console.charts import Bar, bar_chart
from orchestrator.console.formatting import duration
from orchestrator.console.routing import safe_next
from orchestrator.console.stats import percentile


def test_chart_text_is_escaped_and_bars_scale() -> None:
    svg = str(bar_chart("<b>t</b>", [Bar("<script>x</script>", 10, "10 & more"), Bar("b", 5, "5")]))
    assert "<script>" not in svg and "&lt;script&gt;x&lt;/script&gt;" in svg
    assert "10 &amp; more" in svg and "<title>&lt;b&gt;t&lt;/b&gt;</title>" in svg
    assert 'width="300.0"' in svg and 'width="150.0"' in svg  # the largest fills the chart


def test_missing_values_draw_no_bar() -> None:
    svg = str(bar_chart("none", [Bar("p50", None, "—")]))
    assert 'width="0.0"' in svg and "—" in svg


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.5, None), ([4.0], 0.9, 4.0), ([1, 2, 3, 4], 0.5, 2.5), ([0, 10], 0.9, 9.0)],
)
def test_percentile(values: list[float], fraction: float, expected: float | None) -> None:
    assert percentile(values, fraction) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.42, "0.4s"),
        (42, "42s"),
        (185, "3m 05s"),
        (7620, "2h 07m"),
        (277200, "3d 5h"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/console/incidents/x?y=1", "/console/incidents/x?y=1"),
        ("https://evil.example/", "/console/incidents"),
        ("//evil.example/console/", "/console/incidents"),
        ("/console/\\evil", "/console/incidents"),
        ("/console/login?next=/x", "/console/incidents"),
        ("", "/console/incidents"),
    ],
)
def test_sign_in_only_returns_into_the_console(target: str, expected: str) -> None:
    assert safe_next(target) == expected
