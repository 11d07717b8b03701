"""Sink URLs: what each means, and one clear line for each mistake (never a secret)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, CryptoError
from orchestrator.forwarding import forwarding_store, parse_sink, parse_sinks
from orchestrator.settings import Settings


def test_each_kind_with_its_defaults() -> None:
    syslog = parse_sink("syslog+tls://siem.example?ca=/etc/ca.pem")
    assert (syslog.kind, syslog.scheme, syslog.host, syslog.port) == (
        "syslog",
        "tls",
        "siem.example",
        6514,
    )
    assert (syslog.format, syslog.sealed, syslog.name) == (
        "jsonl",
        "keep",
        "syslog+tls://siem.example:6514",
    )
    hec = parse_sink("hec+https://splunk:8088?token_env=T&format=ocsf&sealed=open&name=splunk")
    assert (hec.name, hec.format, hec.sealed, hec.options) == (
        "splunk",
        "ocsf",
        "open",
        {"token_env": "T"},
    )
    es = parse_sink("elasticsearch+http://127.0.0.1:9200/firebreak-audit?api_key_env=K")
    assert (es.kind, es.scheme, es.path, es.name) == (
        "elasticsearch",
        "http",
        "/firebreak-audit",
        "elasticsearch+http://127.0.0.1:9200/firebreak-audit",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kafka://broker:9092", "unknown scheme"),
        ("hec+https://splunk:8088", "option token_env is required"),
        ("hec+https://splunk:8088?token=abc123", "would put a secret in the URL"),
        ("elasticsearch+https://elastic:hunter2@es:9200/i", "credentials in the URL"),
        ("elasticsearch+https://es:9200", "name the index"),
        ("syslog+tls://siem:6514?format=cef", "format must be jsonl or ocsf"),
        ("syslog+tls://siem:6514?sealed=maybe", "sealed must be keep or open"),
        ("syslog+tls://siem:6514?colour=red", "unknown option 'colour'"),
        ("syslog+tls://siem:99999", "port is not a number"),
        ("syslog+tls://siem:6514?facility=40", "facility must be a number from 0 to 23"),
        ("syslog+tls://siem:6514?cert=/c.pem", "cert and key go together"),
        ("syslog+tls://siem:6514?format=jsonl&format=ocsf", "given twice"),
    ],
)
def test_mistakes_are_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_sink(url)
    assert "abc123" not in raised.value.detail and "hunter2" not in raised.value.detail


def test_two_sinks_with_one_name_would_share_a_cursor() -> None:
    with pytest.raises(ConfigError, match="two sinks are named 'siem'"):
        parse_sinks(["syslog+tls://a:1?name=siem", "syslog+tls://b:1?name=siem"])


def test_only_a_sink_that_opens_sealed_fields_needs_the_key_ring(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, keyring_file=tmp_path / "absent.json")
    keep = forwarding_store(settings, [parse_sink("syslog+tls://siem:6514")])
    assert keep.keyring is None and not (tmp_path / "absent.json").exists()
    keep.engine.dispose()
    with pytest.raises(CryptoError, match="key ring not found"):
        forwarding_store(settings, [parse_sink("syslog+tls://siem:6514?sealed=open")])
