"""Renders the `FIREBREAK_*` table of docs/configuration.md from `Settings` itself.

A field's own `description` wins; fields declared without one are described here. A new field
with neither makes `render()` fail, so the table cannot silently fall behind the code.
Regenerate after adding a setting: `.venv/bin/python -m tests.deploy.settings_doc`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from orchestrator.settings import ENV_PREFIX, Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"

DESCRIPTIONS = {
    "temporal_namespace": "Temporal namespace of incidents (the embedded server creates it).",
    "task_queue": "Task queue the worker polls and the API starts incidents on.",
    "api_host": "Interface the API binds; `0.0.0.0` in a container.",
    "api_port": "Port the API listens on.",
    "temporal_ui_port": "Port of the embedded Temporal web UI.",
    "keys_provider": "Key provider: `local` or a gateway (`http`, `litellm`, `kong`, `openai`).",
    "models_provider": "Model registry provider: `local` or `mlflow`.",
    "datasets_provider": "Dataset store provider: `local` or `s3`.",
    "retraining_provider": "Retraining runner: `local`, `airflow`, `argo`, `github`, `webhook`.",
    "agents_provider": "Agent tool control provider: `local`.",
    "mlflow_url": "MLflow tracking server URL.",
    "mlflow_known_good_tag": "Tag marking a model version safe to roll back to.",
    "mlflow_validation_metric": "Metric a restored model must meet (none: skip the check).",
    "mlflow_validation_min": "Minimum value of that metric.",
    "gateway_url": "Base URL of the key gateway's admin API.",
    "s3_endpoint": "S3-compatible endpoint URL.",
    "s3_bucket": "Bucket holding the datasets.",
    "s3_region": "Region used for SigV4 signing.",
    "s3_prefix": "Prefix under which each dataset lives.",
    "s3_quarantine_prefix": "Prefix quarantined objects are copied under.",
    "s3_access_key_env": "Name of the env var holding the access key id.",
    "s3_secret_key_env": "Name of the env var holding the secret key.",
    "retraining_url": "Base URL of the retraining system (Airflow, Argo, GitHub API, webhook).",
    "retraining_token_env": "Name of the env var holding the retraining system's token.",
    "retraining_namespace": "Argo namespace.",
    "retraining_ref": "Git ref a GitHub Actions `workflow_dispatch` runs on.",
    "guard_window_seconds": "A resource remediated by one incident is not remediated again "
    "by another within this window.",
    "max_alert_bytes": "Largest accepted webhook body (413 above).",
    "rate_limit_per_minute": "Alert deliveries per source per minute, across all API "
    "replicas, before 429 + Retry-After.",
    "webhook_tolerance_seconds": "Accepted clock skew of a signed delivery's timestamp.",
}


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    text = re.sub(r"\b(pathlib|pydantic\.types|orchestrator\.settings)\.", "", text)
    text = re.sub(r"^list\b.*", "JSON list", text)
    for python, shown in (("SecretStr", "secret"), ("Path", "path"), ("str", "text")):
        text = re.sub(rf"\b{python}\b", shown, text)
    return text.replace(" | None", ", optional")


def _default(name: str, value: Any) -> str:
    if value is PydanticUndefined or value in (None, "", []):
        return {"database_url": "SQLite file in the data dir"}.get(name, "—")
    if isinstance(value, SecretStr):
        return "—"
    return f"`{value}`"


def _description(name: str, field_description: str | None) -> str:
    text = field_description or DESCRIPTIONS.get(name)
    if not text:
        raise KeyError(f"Settings.{name} has no description: add one to the field or DESCRIPTIONS")
    return text.replace("|", "\\|")


def render() -> str:
    rows = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        rows.append(
            f"| `{ENV_PREFIX}{name.upper()}` | {_type(field.annotation)} "
            f"| {_default(name, field.default)} | {_description(name, field.description)} |"
        )
    return "\n".join(rows)


def current_table(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> None:
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(f"{head}{START}\n{render()}\n{END}{tail}")
    print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
