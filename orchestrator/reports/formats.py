"""The renderings a report is asked for in, by the API's `format` and the CLI's `--format`.

Apart from `models` so the CLI can offer the choice without importing the report's models
(and with them the audit store) for every command.
"""

from __future__ import annotations

from enum import StrEnum


class ReportFormat(StrEnum):
    json = "json"
    md = "md"
    html = "html"
