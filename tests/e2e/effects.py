"""The systems an incident touches, on loopback, each counting every effect it receives.

"Exactly once" is judged where the effect lands, not by what Firebreak says it did:

- `gateway`: a LiteLLM proxy's admin API (`tests/activities/providers/fake_gateways.py`),
  counting `POST /key/block` and `/key/unblock` per key;
- `pipeline`: Airflow's dagRuns API (`fake_pipelines.py`), counting each DAG run it created
  (a trigger answered 409 created nothing); a run succeeds once it has been read `READS_TO_FINISH`
  times (about 10 s at the activity's 2 s poll), so a retraining is still running when a
  worker is killed and the next attempt must resume it, not start another;
- `s3`: a real `moto_server` behind a forwarding proxy that counts every successful write
  (`PUT`, `POST`, `DELETE`) per object path, the copies and deletes of a quarantine included.

Each handler runs under one lock: the fakes keep plain dicts and the servers are threaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.activities.providers.fake_gateways import TOKEN as GATEWAY_TOKEN
from tests.activities.providers.fake_gateways import LiteLLMGateway
from tests.activities.providers.fake_pipelines import TOKEN as PIPELINE_TOKEN
from tests.activities.providers.fake_pipelines import USER as PIPELINE_USER
from tests.activities.providers.fake_pipelines import AirflowPipeline
from tests.support.providers import Recorded, Reply, S3Endpoint, running_moto, serving

BUCKET = "firebreak-datasets"
DAG = "retrain"
READS_TO_FINISH = 5
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class CountingGateway(LiteLLMGateway):
    """LiteLLM's admin API; `blocks[key]` counts the blocks that reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.blocks: Counter[str] = Counter()
        self.unblocks: Counter[str] = Counter()

    def __call__(self, request: Recorded) -> Reply:
        with self.lock:
            reply = super().__call__(request)
            if request.method == "POST" and reply[0] < 300:
                key = request.json()["key"]
                {"/key/block": self.blocks, "/key/unblock": self.unblocks}[request.path][key] += 1
            return reply


class CountingPipeline(AirflowPipeline):
    """Airflow's dagRuns; `created` counts the runs it started, by the run's model."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.created: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()

    def __call__(self, request: Recorded) -> Reply:
        with self.lock:
            known = set(self.runs)
            reply = super().__call__(request)
            for run_id in set(self.runs) - known:
                self.created[str(self.runs[run_id]["conf"].get("model"))] += 1
            if request.method == "GET" and reply[0] == 200:
                run_id = request.path.rsplit("/", 1)[-1]
                self.reads[run_id] += 1
                if self.reads[run_id] >= READS_TO_FINISH and self.runs[run_id]["state"] == "queued":
                    self.finish(run_id, "succeeded")
            return reply


@dataclass
class CountingS3Proxy:
    """Forwards every request to moto unchanged (the Host header too, so SigV4 still holds)
    and counts the writes moto accepted, per `METHOD /bucket/key`."""

    upstream: str
    writes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def __call__(self, request: Recorded) -> Reply:
        headers = {k: v for k, v in request.headers.items() if k not in HOP_BY_HOP}
        response = self.client.request(
            request.method,
            self.upstream + request.target,
            headers=headers,
            content=request.body,
        )
        if request.method in ("PUT", "POST", "DELETE") and response.status_code < 300:
            with self.lock:
                self.writes[f"{request.method} {request.path}"] += 1
        passed = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
        return response.status_code, passed, response.content


@dataclass
class Effects:
    gateway: CountingGateway
    pipeline: CountingPipeline
    s3: CountingS3Proxy
    s3_endpoint: S3Endpoint
    gateway_url: str
    pipeline_url: str
    s3_url: str

    def env(self) -> dict[str, str]:
        """What a worker needs to reach them (providers.md names each setting)."""
        return {
            "FIREBREAK_KEYS_PROVIDER": "litellm",
            "FIREBREAK_GATEWAY_URL": self.gateway_url,
            "FIREBREAK_GATEWAY_TOKEN_ENV": "FAULTS_GATEWAY_TOKEN",
            "FAULTS_GATEWAY_TOKEN": GATEWAY_TOKEN,
            "FIREBREAK_DATASETS_PROVIDER": "s3",
            "FIREBREAK_S3_ENDPOINT": self.s3_url,
            "FIREBREAK_S3_BUCKET": BUCKET,
            "FIREBREAK_S3_ACCESS_KEY_ENV": "FAULTS_S3_ACCESS_KEY",
            "FIREBREAK_S3_SECRET_KEY_ENV": "FAULTS_S3_SECRET_KEY",
            "FAULTS_S3_ACCESS_KEY": self.s3_endpoint.access_key,
            "FAULTS_S3_SECRET_KEY": self.s3_endpoint.secret_key,
            "FIREBREAK_RETRAINING_PROVIDER": "airflow",
            "FIREBREAK_RETRAINING_URL": self.pipeline_url,
            "FIREBREAK_RETRAINING_TARGET": DAG,
            "FIREBREAK_RETRAINING_USERNAME": PIPELINE_USER,
            "FIREBREAK_RETRAINING_TOKEN_ENV": "FAULTS_PIPELINE_TOKEN",
            "FAULTS_PIPELINE_TOKEN": PIPELINE_TOKEN,
        }

    def add_dataset(self, name: str, versions: list[str]) -> None:
        """Each version: one data file and its SHA-256 manifest, as the S3 provider lays them."""
        s3 = self.s3_endpoint.client()
        for version in versions:
            data = f"{name}@{version}\n".encode() * 64
            base = f"datasets/{name}/{version}/"
            s3.put_object(Bucket=BUCKET, Key=base + "part-0.jsonl", Body=data)
            manifest = {"files": {"part-0.jsonl": hashlib.sha256(data).hexdigest()}}
            s3.put_object(Bucket=BUCKET, Key=base + "MANIFEST.json", Body=json.dumps(manifest))

    def writes_under(self, prefix: str) -> Counter[str]:
        """S3 writes to objects under `/bucket/prefix`."""
        path = f"/{BUCKET}/{prefix}"
        return Counter(
            {k: n for k, n in self.s3.writes.items() if k.split(" ", 1)[1].startswith(path)}
        )


@contextlib.contextmanager
def effect_servers(root: Path) -> Iterator[Effects]:
    root.mkdir(parents=True, exist_ok=True)
    gateway, pipeline = CountingGateway(), CountingPipeline()
    with (
        running_moto(root) as endpoint,
        serving(gateway) as gateway_server,
        serving(pipeline) as pipeline_server,
    ):
        endpoint.client().create_bucket(Bucket=BUCKET)
        proxy = CountingS3Proxy(endpoint.url)
        with serving(proxy) as s3_server:
            try:
                yield Effects(
                    gateway,
                    pipeline,
                    proxy,
                    endpoint,
                    gateway_server.url,
                    pipeline_server.url,
                    s3_server.url,
                )
            finally:
                proxy.client.close()
