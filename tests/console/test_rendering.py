"""The console's pure parts: SVG charts escape their text, percentiles, durations, the
sign-in redirect never leaves the console, and the audit page's verdict line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.audit import QueryPage, Verdict, VerificationReport
from orchestrator.console.audit_view import parse_search
from orchestrator.console.charts import Bar, bar_chart
from orchestrator.console.formatting import duration
from orchestrator.console.rendering import templates
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


@pytest.mark.parametrize(
    ("verdict", "css", "says"),
    [
        (Verdict.intact, "ok", "Chain verified: 7 events"),
        (
            Verdict.unverified,
            "warn",
            "Chain intact (7 events, head at position 7), checkpoints not",
        ),
        (Verdict.tampered, "bad", "Chain verification FAILED at position 3: the reason"),
    ],
)
def test_the_audit_page_states_each_verdict(verdict: Verdict, css: str, says: str) -> None:
    report = VerificationReport(
        ok=verdict is Verdict.intact,
        verdict=verdict,
        checked=7,
        first_bad_position=3 if verdict is Verdict.tampered else None,
        problem=None if verdict is Verdict.intact else "the reason",
        head_position=7,
        head_hash="ab" * 32,
    )
    html = templates.get_template("audit.html").render(
        now=datetime.now(UTC),
        report=report,
        checkpoint=None,
        error=None,
        search=parse_search({}),
        page=QueryPage(events=[], next_cursor=None),
        cursor=0,
        details={},
        event_types=[],
    )
    line = html[html.index('<p id="verification"') :]
    line = " ".join(line[: line.index("</p>")].split())
    assert line.startswith(f'<p id="verification" class="{css}">'), line
    assert says in line and line.count("Chain") == 1
