"""Jinja2 for the console: autoescaping on for every template, strict about undefined names.

Alert-derived text reaches templates only as plain strings, so autoescape turns `<script>` into
text; nothing alert-derived is ever wrapped in `Markup`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from orchestrator.console.formatting import duration, timestamp

templates = Environment(
    loader=PackageLoader("orchestrator.console", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["duration"] = duration
templates.filters["timestamp"] = timestamp


def render(
    name: str, context: dict[str, Any], *, status: int = 200, no_store: bool = True
) -> HTMLResponse:
    """A page; `no_store` keeps pages holding incident or audit data out of every cache."""
    html = templates.get_template(name).render(now=datetime.now(UTC), **context)
    headers = {"Cache-Control": "no-store"} if no_store else {}
    return HTMLResponse(html, status_code=status, headers=headers)
