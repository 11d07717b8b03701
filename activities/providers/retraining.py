"""RetrainingRunners for the pipelines teams already run: Airflow, Argo Workflows, GitHub Actions
and a generic webhook.

Each passes the model, dataset, dataset version and incident id as run parameters, and names
the run after the idempotency key wherever the system lets us (Airflow `dag_run_id`, Argo
workflow name, GitHub `run-name`), so a retried trigger finds the first run instead of starting
a second. Polling with heartbeats and a deadline is the activity's job; runners trigger and
report.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from activities.providers.http_support import call, json_object, permanent, secret_from_env
from activities.providers.protocols import RetrainingRun, RetrainingRunner, RunState
from activities.providers.runs import RequestRunner, RunRequest


@dataclass(frozen=True)
class PipelineConfig:
    """`target` is the Airflow DAG id, the Argo WorkflowTemplate, or GitHub
    `owner/repo/workflow.yml`; a webhook ignores it. The credential is read from the environment
    variable `token_env`: a bearer token, or a password when `username` is set (basic auth)."""

    url: str
    target: str = ""
    token_env: str | None = None
    username: str | None = None
    namespace: str = "default"
    ref: str = "main"
    timeout_seconds: float = 15.0


def run_name(idempotency_key: str) -> str:
    """A short DNS-safe name derived from the idempotency key, stable across retries."""
    return "firebreak-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


class _HttpRunner(RequestRunner):
    system = "pipeline"

    def __init__(self, config: PipelineConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(
            base_url=config.url.rstrip("/"),
            headers=self._auth_headers(),
            timeout=httpx.Timeout(config.timeout_seconds),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _auth_headers(self) -> dict[str, str]:
        if not self.config.token_env:
            return {}
        secret = secret_from_env(self.config.token_env, purpose=f"{self.system} credential")
        if self.config.username:
            pair = base64.b64encode(f"{self.config.username}:{secret}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        return {"Authorization": f"Bearer {secret}"}

    async def _json(
        self, method: str, path: str, *, what: str, accept: frozenset[int] = frozenset(), **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        described = f"{self.system}: {what}"
        response = await call(self._client, method, path, what=described, accept=accept, **kw)
        if response.status_code >= 300 or not response.content:
            return response.status_code, {}
        return response.status_code, json_object(response, what=described)


class AirflowRunner(_HttpRunner):
    """Airflow stable REST API v1: `POST /api/v1/dags/{dag_id}/dagRuns`, then read its state."""

    system = "airflow"
    _STATES: dict[str, RunState] = {
        "queued": "queued",
        "running": "running",
        "success": "succeeded",
        "failed": "failed",
    }

    def _path(self, run_id: str = "") -> str:
        base = f"/api/v1/dags/{quote(self.config.target, safe='')}/dagRuns"
        return f"{base}/{quote(run_id, safe='')}" if run_id else base

    async def start(self, request: RunRequest, idempotency_key: str) -> RetrainingRun:
        run_id = run_name(idempotency_key)
        await self._json(
            "POST",
            self._path(),
            what=f"trigger DAG {self.config.target}",
            accept=frozenset({409}),
            json={"dag_run_id": run_id, "conf": request.parameters()},
        )
        return await self.status(run_id)

    async def status(self, run_id: str) -> RetrainingRun:
        _, body = await self._json("GET", self._path(run_id), what=f"read DAG run {run_id}")
        raw = str(body.get("state") or "queued")
        return RetrainingRun(
            run_id=run_id, state=self._STATES.get(raw, "running"), detail=f"airflow state {raw}"
        )


class ArgoRunner(_HttpRunner):
    """Argo Workflows server: submit a WorkflowTemplate under a fixed name, then read its phase."""

    system = "argo"
    _PHASES: dict[str, RunState] = {
        "": "queued",
        "Pending": "queued",
        "Running": "running",
        "Succeeded": "succeeded",
        "Failed": "failed",
        "Error": "failed",
    }

    async def start(self, request: RunRequest, idempotency_key: str) -> RetrainingRun:
        name = run_name(idempotency_key)
        await self._json(
            "POST",
            f"/api/v1/workflows/{quote(self.config.namespace, safe='')}/submit",
            what=f"submit template {self.config.target}",
            accept=frozenset({409}),
            json={
                "namespace": self.config.namespace,
                "resourceKind": "WorkflowTemplate",
                "resourceName": self.config.target,
                "submitOptions": {
                    "name": name,
                    "parameters": [f"{key}={value}" for key, value in request.parameters().items()],
                },
            },
        )
        return await self.status(name)

    async def status(self, run_id: str) -> RetrainingRun:
        path = f"/api/v1/workflows/{quote(self.config.namespace, safe='')}/{quote(run_id, safe='')}"
        _, body = await self._json("GET", path, what=f"read workflow {run_id}")
        status = body.get("status") or {}
        phase = str(status.get("phase") or "")
        outputs = (status.get("outputs") or {}).get("parameters") or []
        version = next(
            (str(p.get("value")) for p in outputs if p.get("name") == "model_version"), None
        )
        return RetrainingRun(
            run_id=run_id,
            state=self._PHASES.get(phase, "running"),
            model_version=version,
            detail=str(status.get("message") or f"argo phase {phase or 'Pending'}"),
        )


class GitHubActionsRunner(_HttpRunner):
    """GitHub Actions `workflow_dispatch`. The workflow must carry the run name we pass, e.g.
    `run-name: retrain ${{ inputs.firebreak_run }}`, so a retry can find its run instead of
    dispatching another."""

    system = "github"

    def _repo_and_workflow(self) -> tuple[str, str]:
        owner, _, rest = self.config.target.partition("/")
        repo, _, workflow = rest.partition("/")
        if not (owner and repo and workflow):
            raise permanent("github: target must be owner/repo/workflow.yml")
        return f"/repos/{owner}/{repo}", workflow

    async def start(self, request: RunRequest, idempotency_key: str) -> RetrainingRun:
        name = run_name(idempotency_key)
        existing = await self._find(name)
        if existing is not None:
            return existing
        repo, workflow = self._repo_and_workflow()
        inputs = {**request.parameters(), "firebreak_run": name}
        status, body = await self._json(
            "POST",
            f"{repo}/actions/workflows/{workflow}/dispatches",
            what=f"dispatch {workflow}",
            accept=frozenset({200, 204}),
            json={"ref": self.config.ref, "inputs": inputs, "return_run_details": True},
        )
        if status == 200 and body.get("workflow_run_id"):
            return await self.status(str(body["workflow_run_id"]))
        found = await self._find(name)
        if found is None:
            raise permanent(
                f"github: dispatched {workflow} but no run is named {name}; "
                "the workflow needs run-name with ${{ inputs.firebreak_run }}"
            )
        return found

    async def _find(self, name: str) -> RetrainingRun | None:
        repo, workflow = self._repo_and_workflow()
        _, body = await self._json(
            "GET",
            f"{repo}/actions/workflows/{workflow}/runs",
            params={"event": "workflow_dispatch", "per_page": "100"},
            what=f"list runs of {workflow}",
        )
        for run in body.get("workflow_runs", []):
            if name in str(run.get("display_title", "")):
                return self._run(run)
        return None

    async def status(self, run_id: str) -> RetrainingRun:
        repo, _ = self._repo_and_workflow()
        _, body = await self._json(
            "GET", f"{repo}/actions/runs/{quote(run_id, safe='')}", what=f"read run {run_id}"
        )
        return self._run(body)

    @staticmethod
    def _run(run: dict[str, Any]) -> RetrainingRun:
        status, conclusion = str(run.get("status")), str(run.get("conclusion"))
        state: RunState
        if status == "completed":
            state = "succeeded" if conclusion == "success" else "failed"
        else:
            state = "running" if status == "in_progress" else "queued"
        return RetrainingRun(
            run_id=str(run["id"]), state=state, detail=f"github {status}/{conclusion}"
        )


class WebhookRunner(_HttpRunner):
    """Any HTTP service: `POST {url}` with the parameters and an `Idempotency-Key` header answers
    `{"run_id", "state"}`; `GET {url}/{run_id}` answers `{"state", "model_version", "detail"}`."""

    system = "webhook"
    _STATES: dict[str, RunState] = {
        "queued": "queued",
        "pending": "queued",
        "running": "running",
        "succeeded": "succeeded",
        "success": "succeeded",
        "failed": "failed",
        "error": "failed",
    }

    async def start(self, request: RunRequest, idempotency_key: str) -> RetrainingRun:
        _, body = await self._json(
            "POST",
            self.config.url.rstrip("/"),
            what="trigger retraining",
            headers={"Idempotency-Key": idempotency_key},
            json={**request.parameters(), "idempotency_key": idempotency_key},
        )
        return self._run(body)

    async def status(self, run_id: str) -> RetrainingRun:
        _, body = await self._json("GET", f"/{quote(run_id, safe='')}", what=f"read run {run_id}")
        return self._run({"run_id": run_id, **body})

    def _run(self, body: dict[str, Any]) -> RetrainingRun:
        raw = str(body.get("state", "")).lower()
        if "run_id" not in body or raw not in self._STATES:
            raise permanent(f"webhook: reply lacks run_id or has unknown state {raw[:40]!r}")
        version = body.get("model_version")
        return RetrainingRun(
            run_id=str(body["run_id"]),
            state=self._STATES[raw],
            model_version=str(version) if version is not None else None,
            detail=str(body.get("detail", ""))[:500],
        )


RUNNERS: dict[str, Callable[[PipelineConfig], RetrainingRunner]] = {
    "airflow": AirflowRunner,
    "argo": ArgoRunner,
    "github": GitHubActionsRunner,
    "webhook": WebhookRunner,
}
