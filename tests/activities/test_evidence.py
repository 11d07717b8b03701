"""evidence.collect: three kinds, content-addressed, encrypted at rest, one item per retry."""

from __future__ import annotations

import hashlib
import json

import pytest
from temporalio.exceptions import ApplicationError

from activities.errors import IntegrityFailure
from tests.activities.conftest import Lab


@pytest.mark.parametrize(
    ("kind", "resource", "expect"),
    [
        ("access_logs", "key-ingest-pipeline", "203.0.113.77"),
        ("model_outputs", "fraud-detector", '"prediction"'),
        ("model_outputs", "fraud-detector@2", '"version":"2"'),
        ("dataset_manifest", "transactions", "sha256 differs"),
        ("dataset_manifest", "transactions@v1", '"ok":true'),
    ],
)
async def test_collect_stores_content_under_its_sha256(
    lab: Lab, kind: str, resource: str, expect: str
) -> None:
    result = await lab.run("evidence.collect", {"kind": kind, "resource": resource})
    [digest] = result.evidence
    assert result.outputs["sha256"] == digest and not result.changed
    stored = (lab.paths.evidence / "sha256" / digest).read_bytes()
    assert expect.encode() not in stored, "evidence must be encrypted at rest"
    content = await lab.providers.evidence.get(digest)
    assert hashlib.sha256(content).hexdigest() == digest
    assert expect in content.decode()
    assert json.loads(content)["kind"] == kind


async def test_a_retried_collection_records_one_item(lab: Lab) -> None:
    params = {"kind": "access_logs", "resource": "key-ingest-pipeline"}
    first = await lab.run("evidence.collect", params, key="wf/evidence")
    again = await lab.run("evidence.collect", params, key="wf/evidence")
    assert again.evidence == first.evidence
    assert len(list((lab.paths.evidence / "sha256").iterdir())) == 1


async def test_tampered_evidence_is_detected(lab: Lab) -> None:
    result = await lab.run("evidence.collect", {"kind": "access_logs", "resource": "key-analytics"})
    path = lab.paths.evidence / "sha256" / result.evidence[0]
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(IntegrityFailure, match="cannot be opened"):
        await lab.providers.evidence.get(result.evidence[0])


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"kind": "screenshots", "resource": "x"}, "screenshots"),
        ({"kind": "access_logs"}, "resource"),
    ],
)
async def test_bad_kind_or_missing_resource(lab: Lab, params: dict[str, str], named: str) -> None:
    with pytest.raises(ApplicationError) as caught:
        await lab.run("evidence.collect", params)
    assert caught.value.type == "InvalidParams" and named in str(caught.value)
