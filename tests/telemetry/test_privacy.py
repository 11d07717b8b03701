"""What an HTTP span may say of a URL: the endpoint, never its query or userinfo."""

from __future__ import annotations

import pytest

from orchestrator.telemetry.privacy import endpoint_of


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("http://gw:4000/key/info?key=sk-live-123", "http://gw:4000/key/info"),
        ("https://admin:hunter2@gw.example/key/block", "https://gw.example/key/block"),
        ("https://s3.example/b/o?X-Amz-Signature=abc#frag", "https://s3.example/b/o"),
        ("http://[::1]:8080/v1/alerts/generic?token=t", "http://[::1]:8080/v1/alerts/generic"),
        ("http://host:99999999/x", "REDACTED"),
    ],
)
def test_only_scheme_host_port_and_path_remain(url: str, endpoint: str) -> None:
    assert endpoint_of(url) == endpoint
