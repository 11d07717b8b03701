"""`firebreak routes list|show|validate|test`: the routes the API would use and what they make
of an alert file, without posting it; bad input is one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli.main import app, main
from orchestrator.routing.service import load_table
from tests.routing.test_service import FIXTURES, USER_ROUTES

runner = CliRunner()


@pytest.fixture(autouse=True)
def user_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREBREAK_ROUTES_FILE", str(USER_ROUTES))


def firebreak(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the console script's `main` as a shell would: its exit code, stdout and stderr."""
    sys_argv = sys.argv
    sys.argv = ["firebreak", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = sys_argv
    out, err = capsys.readouterr()
    return code, out, err


def test_list_in_the_order_routes_are_tried() -> None:
    listed = runner.invoke(app, ["routes", "list"])
    assert listed.exit_code == 0, listed.output
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [r[0] for r in rows] == [
        "injection-blocks",
        "token-spend",
        "embedding-drift",
        "litellm-budget",
        "llm-guard",
        "default",
    ]
    assert rows[0][1:] == [
        str(USER_ROUTES),
        "labels.alertname=GuardrailInjectionBlocksHigh",
        "type=prompt_injection",
    ]
    assert rows[-1][1:3] == ["builtin", "*"]


def test_show_prints_the_validated_route_with_its_origin_and_hash(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["routes", "show", "llm-guard"])
    assert shown.exit_code == 0, shown.output
    first, *rest = shown.stdout.splitlines()
    assert first == f"# {USER_ROUTES}, routes {load_table(USER_ROUTES).content_hash}"
    assert "id: llm-guard" in rest and "    PromptInjection: prompt_injection" in rest
    assert "  - data.scanner" in rest, "shorthands as a routes file may write them"
    pasted = tmp_path / "routes.yaml"
    pasted.write_text(yaml.safe_dump({"routes": [yaml.safe_load(shown.stdout)]}))
    assert load_table(pasted).get("llm-guard") == load_table(USER_ROUTES).get("llm-guard")


def test_validate_a_file_or_the_configured_one(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["routes", "validate"])
    assert ok.exit_code == 0
    assert (
        ok.stdout == f"ok: 5 route(s) in {USER_ROUTES} ({load_table(USER_ROUTES).content_hash})\n"
    )
    empty = tmp_path / "routes.yaml"
    empty.write_text("routes: []\n")
    assert runner.invoke(app, ["routes", "validate", str(empty)]).stdout.startswith(
        f"ok: 0 route(s) in {empty}"
    )


def test_test_shows_the_route_and_the_alert_it_becomes() -> None:
    result = runner.invoke(
        app,
        ["routes", "test", str(FIXTURES / "prometheus_alertmanager.json"), "-f", "alertmanager"],
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["routes"] == load_table(USER_ROUTES).content_hash
    injection, spend = shown["alerts"]
    assert {k: injection[k] for k in ("route", "origin", "type", "severity", "environment")} == {
        "route": "injection-blocks",
        "origin": str(USER_ROUTES),
        "type": "prompt_injection",
        "severity": "critical",
        "environment": "prod",
    }
    assert injection["resources"] == {"model": "support-llm", "api_key": "key-support-bot"}
    assert injection["correlation_key"] == "prompt_injection/prod/7c1d0b9a4e3f2a65"
    assert (spend["route"], spend["type"]) == ("token-spend", "api_key_abuse")


def test_test_and_list_show_a_route_s_entity_correlation() -> None:
    routes = str(FIXTURES / "correlated_routes.yaml")
    delivery = str(FIXTURES / "prometheus_alertmanager.json")
    result = runner.invoke(
        app, ["routes", "test", delivery, "-f", "alertmanager", "--routes", routes]
    )
    assert result.exit_code == 0, result.output
    injection, spend = json.loads(result.stdout)["alerts"]
    assert injection["entity_correlation"] == {
        "kinds": ["api_key", "model"],
        "window_seconds": 600,
        "rule": "key-injection",
    }
    assert spend["entity_correlation"]["kinds"] == ["api_key"]
    listed = runner.invoke(app, ["routes", "list", "--routes", routes])
    assert "correlate=api_key+model/600s" in listed.stdout.splitlines()[0]
    default = runner.invoke(app, ["routes", "test", delivery, "-f", "alertmanager"])
    assert all(a["entity_correlation"] is None for a in json.loads(default.stdout)["alerts"])


def test_test_with_other_routes_and_binary_cloudevents(tmp_path: Path) -> None:
    event = json.loads((FIXTURES / "cloudevents_llm_guard.json").read_text())
    data = tmp_path / "data.json"
    data.write_text(json.dumps(event["data"]))
    headers = [f"ce-{k}:{event[k]}" for k in ("specversion", "id", "source", "type", "deployment")]
    args = ["routes", "test", str(data), "-f", "cloudevents"]
    args += [x for h in headers for x in ("-H", h)] + ["-H", "content-type: application/json"]
    with_user = json.loads(runner.invoke(app, args).stdout)["alerts"][0]
    assert (with_user["route"], with_user["type"]) == ("llm-guard", "prompt_injection")
    none = tmp_path / "none.yaml"
    none.write_text("")
    builtin = json.loads(runner.invoke(app, [*args, "--routes", str(none)]).stdout)["alerts"][0]
    assert (builtin["route"], builtin["type"]) == ("default", "blocked")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["routes", "show", "nope"], "no route 'nope' (routes: injection-blocks, token-spend"),
        (["routes", "validate", "{bad}"], "{bad}: cannot read"),
        (["routes", "test", "/no/such.json", "-f", "generic"], "cannot read /no/such.json"),
        (["routes", "test", "{routes}", "-f", "generic"], "body is not valid UTF-8 JSON"),
        (
            ["routes", "test", "{fixtures}/pagerduty_litellm.json", "-f", "alertmanager"],
            "version: Field required",
        ),
        (["routes", "test", "{fixtures}/pagerduty_litellm.json", "-f", "x"], "Invalid value"),
        (
            ["routes", "test", "{fixtures}/grafana_alerting.json", "-f", "alertmanager", "-H", "x"],
            "--header 'x': expected NAME:VALUE",
        ),
        (["routes", "list", "--routes", "{broken}"], "route a: match.alertname: unknown field"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("routes: [{id: a, match: {alertname: X}}]\n")
    values = {
        "bad": str(tmp_path / "missing.yaml"),
        "routes": str(USER_ROUTES),
        "fixtures": str(FIXTURES),
        "broken": str(broken),
    }
    code, out, err = firebreak(capsys, *(a.format(**values) for a in args))
    assert code == 2
    assert message.format(**values) in err, err
    assert "Traceback" not in err and out == ""
    if "Invalid value" not in message:  # typer's own usage errors are a box, not one line
        assert err.startswith("firebreak: ") and err.count("\n") == 1
