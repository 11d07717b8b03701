"""`/readyz` of a real `firebreak api` process in the split topology: each dependency named
with its state as a `firebreak worker` process comes and goes and the schema falls behind."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from orchestrator.db import downgrade, head_revision, upgrade
from tests.e2e.stack import env_for, running, wait_until
from tests.support.ports import free_port


def test_readiness_names_each_dependency(
    temporal_dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'firebreak.db'}"
    upgrade(url)
    port, queue = free_port(), f"ready-{uuid.uuid4().hex[:8]}"
    env = env_for(
        data_dir,
        FIREBREAK_API_PORT=str(port),
        FIREBREAK_TASK_QUEUE=queue,
        FIREBREAK_TEMPORAL_ADDRESS=temporal_dev_env.client.service_client.config.target_host,
    )
    readyz = f"http://127.0.0.1:{port}/readyz"

    def ready() -> httpx.Response | None:
        try:
            return httpx.get(readyz, timeout=10)
        except httpx.TransportError:
            return None

    def states(response: httpx.Response) -> dict[str, str]:
        return {name: check["state"] for name, check in response.json()["checks"].items()}

    with running("api", env, tmp_path / "api.log") as api:
        alone = wait_until(ready, "the API answers /readyz")
        assert api.poll() is None
        assert alone.status_code == 200, alone.text
        assert alone.json()["status"] == "degraded"
        assert states(alone) == {
            "database": "ok",
            "schema": "ok",
            "temporal": "ok",
            "workers": "none",
            "forwarding": "none",
            "witnesses": "none",
        }
        assert alone.json()["checks"]["schema"]["detail"] == f"at {head_revision()}"
        assert queue in alone.json()["checks"]["workers"]["detail"]

        with running("worker", env, tmp_path / "worker.log"):

            def polled() -> httpx.Response | None:
                response = ready()
                return response if response and states(response)["workers"] == "ok" else None

            served = wait_until(polled, "a worker polls the task queue")
            assert served.status_code == 200 and served.json()["status"] == "ready"
            assert served.json()["checks"]["workers"]["detail"].endswith(f"task queue {queue}")
            assert served.json()["checks"]["witnesses"]["state"] == "none", "no run, no witness"

        downgrade(url, "0004")
        behind = ready()
        assert behind is not None and behind.status_code == 503
        assert behind.json()["status"] == "not_ready"
        assert behind.json()["checks"]["schema"] == {
            "state": "behind",
            "detail": f"at 0004, head {head_revision()}: run `firebreak db upgrade`",
        }
        assert states(behind)["database"] == "ok" and states(behind)["temporal"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        time.sleep(2)  # the projection ticks every 0.25 s: it says it paused once, with why
        paused = [
            line
            for line in (tmp_path / "api.log").read_text().splitlines()
            if "incidents projection paused" in line
        ]
        assert len(paused) == 1, paused
        assert paused[0].endswith("run `firebreak db upgrade`")
