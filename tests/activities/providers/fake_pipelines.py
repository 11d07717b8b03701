"""Retraining pipelines on a loopback server, in each system's wire format: Airflow's stable
REST API (dagRuns), the Argo Workflows server (submit from a WorkflowTemplate), GitHub Actions
(workflow_dispatch and runs) and the generic webhook `WebhookRunner` documents.

Each fake keeps its runs (run id -> the parameters it was given) and can end a run the way that
system reports it, so a test reads the pipeline rather than what the runner says about it. The
fakes refuse a request without the credential and answer an unknown run with 404.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

from tests.activities.providers.contract_retraining import Outcome
from tests.support.providers import Recorded, Reply

TOKEN_ENV = "CONTRACT_PIPELINE_TOKEN"
TOKEN = "pipeline-contract-3c9d"
USER = "firebreak"
NOT_FOUND: Reply = (404, {}, {"title": "Not Found", "status": 404})


class FakePipeline:
    username: str | None = None

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}

    def credential(self) -> str:
        if self.username:
            return "Basic " + base64.b64encode(f"{self.username}:{TOKEN}".encode()).decode()
        return f"Bearer {TOKEN}"

    def __call__(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != self.credential():
            return 401, {}, {"message": "Unauthorized"}
        return self.serve(request)

    def serve(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def parameters(self) -> dict[str, dict[str, str]]:
        """Each run's parameters as the pipeline received them."""
        raise NotImplementedError

    def finish(self, run_id: str, outcome: Outcome) -> None:
        raise NotImplementedError


class AirflowPipeline(FakePipeline):
    """`POST /api/v1/dags/retrain/dagRuns` (409 on a known dag_run_id), `GET …/dagRuns/{id}`."""

    username = USER
    STATES = {"succeeded": "success", "failed": "failed"}

    def serve(self, request: Recorded) -> Reply:
        parts = request.path.split("/")
        if parts[4] != "retrain":
            return NOT_FOUND
        if request.method == "POST":
            body = request.json()
            if body["dag_run_id"] in self.runs:
                return 409, {}, {"title": "Conflict", "status": 409}
            self.runs[body["dag_run_id"]] = {**body, "state": "queued"}
            return 200, {}, self.runs[body["dag_run_id"]]
        return (200, {}, self.runs[parts[6]]) if parts[6] in self.runs else NOT_FOUND

    def parameters(self) -> dict[str, dict[str, str]]:
        return {run_id: run["conf"] for run_id, run in self.runs.items()}

    def finish(self, run_id: str, outcome: Outcome) -> None:
        self.runs[run_id]["state"] = self.STATES[outcome]


class ArgoPipeline(FakePipeline):
    """`POST /api/v1/workflows/{ns}/submit` (409 on a known name), `GET …/{ns}/{name}`."""

    PHASES = {"succeeded": "Succeeded", "failed": "Failed"}

    def serve(self, request: Recorded) -> Reply:
        if request.method == "POST":
            options = request.json()["submitOptions"]
            if options["name"] in self.runs:
                return 409, {}, {"code": 6, "message": "already exists"}
            self.runs[options["name"]] = {
                "metadata": {"name": options["name"]},
                "spec": {"arguments": {"parameters": options["parameters"]}},
                "status": {},
            }
            return 200, {}, self.runs[options["name"]]
        name = request.path.rsplit("/", 1)[-1]
        return (200, {}, self.runs[name]) if name in self.runs else NOT_FOUND

    def parameters(self) -> dict[str, dict[str, str]]:
        return {
            name: dict(p.split("=", 1) for p in run["spec"]["arguments"]["parameters"])
            for name, run in self.runs.items()
        }

    def finish(self, run_id: str, outcome: Outcome) -> None:
        self.runs[run_id]["status"] = {"phase": self.PHASES[outcome]}


class GitHubPipeline(FakePipeline):
    """`POST …/actions/workflows/{file}/dispatches` (the classic 204, or 200 with the run's id
    when `run_details`), the workflow's `GET …/runs` (titled by the `firebreak_run` input) and
    `GET …/actions/runs/{id}`."""

    def __init__(self, *, run_details: bool = False) -> None:
        super().__init__()
        self.ids = itertools.count(1000)
        self.run_details = run_details

    def serve(self, request: Recorded) -> Reply:
        if request.path.endswith("/dispatches"):
            body = request.json()
            run_id = str(next(self.ids))
            self.runs[run_id] = {
                "status": "queued",
                "conclusion": None,
                "display_title": f"retrain {body['inputs']['firebreak_run']}",
                "inputs": body["inputs"],
                "ref": body["ref"],
            }
            if self.run_details:
                return 200, {}, {"workflow_run_id": int(run_id), "run_url": "u", "html_url": "h"}
            return 204, {}, b""
        if request.path.endswith("/runs"):
            listed = [{"id": int(run_id), **run} for run_id, run in self.runs.items()]
            return 200, {}, {"total_count": len(listed), "workflow_runs": listed}
        run_id = request.path.rsplit("/", 1)[-1]
        if run_id not in self.runs:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, {"id": int(run_id), **self.runs[run_id]}

    def parameters(self) -> dict[str, dict[str, str]]:
        return {
            run_id: {k: v for k, v in run["inputs"].items() if k != "firebreak_run"}
            for run_id, run in self.runs.items()
        }

    def finish(self, run_id: str, outcome: Outcome) -> None:
        conclusion = "success" if outcome == "succeeded" else "failure"
        self.runs[run_id].update(status="completed", conclusion=conclusion)


class WebhookPipeline(FakePipeline):
    """`POST /retrain` starts one run per `Idempotency-Key`; `GET /retrain/{run_id}` reports its
    state, and its `model_version` once a test has set one."""

    REPORTED = ("state", "model_version")

    def __init__(self) -> None:
        super().__init__()
        self.by_key: dict[str, str] = {}

    def serve(self, request: Recorded) -> Reply:
        if request.method == "POST":
            key = request.headers["idempotency-key"]
            if key not in self.by_key:
                self.by_key[key] = f"r-{len(self.runs) + 1}"
                self.runs[self.by_key[key]] = {"body": request.json(), "state": "queued"}
            run_id = self.by_key[key]
            return 202, {}, {"run_id": run_id, "state": self.runs[run_id]["state"]}
        run_id = request.path.rsplit("/", 1)[-1]
        if run_id not in self.runs:
            return NOT_FOUND
        run = self.runs[run_id]
        return 200, {}, {"detail": "contract", **{k: run[k] for k in self.REPORTED if k in run}}

    def parameters(self) -> dict[str, dict[str, str]]:
        return {
            run_id: {k: v for k, v in run["body"].items() if k != "idempotency_key"}
            for run_id, run in self.runs.items()
        }

    def finish(self, run_id: str, outcome: Outcome) -> None:
        self.runs[run_id]["state"] = outcome
