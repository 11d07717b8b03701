"""Routing real senders' alerts: what each route makes of them, the built-in conventions, the
order routes are tried in, and where the routes file is found.

The fixtures in tests/fixtures/routing/ are deliveries as the senders send them, with no
Firebreak-specific field; `routes.yaml` there is the few lines a user writes for them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.alerts.formats import NORMALISERS
from orchestrator.alerts.models import AlertFormat
from orchestrator.domain import Alert
from orchestrator.errors import InvalidInput
from orchestrator.playbooks.loader import load_playbooks
from orchestrator.routing.service import RouteTable, load_routes, load_table, routes_file
from orchestrator.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "routing"
USER_ROUTES = FIXTURES / "routes.yaml"
CONTENT_TYPES = {"cloudevents": "application/cloudevents+json"}


def routed(
    table: RouteTable, fmt: str, body: Any, source: str = "detector", **headers: str
) -> list[Alert]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": CONTENT_TYPES.get(fmt, "application/json"), **headers}
    parsed = NORMALISERS[AlertFormat(fmt)](raw, headers, source, datetime.now(UTC))
    return [item.alert for item in table.apply(fmt, parsed)]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def summary(alert: Alert) -> tuple[str | None, str, str, str, dict[str, str]]:
    """Route, type, severity, environment and the resources named."""
    resources = alert.resources.model_dump(exclude_none=True)
    return (alert.route, alert.type, alert.severity, alert.environment, resources)


@pytest.fixture(scope="module")
def user() -> RouteTable:
    return load_table(USER_ROUTES)


@pytest.fixture(scope="module")
def builtin() -> RouteTable:
    return load_table(None)


SENDERS = [
    # (fixture, format, alert index, route, type, severity, environment, resources)
    (
        "prometheus_alertmanager.json",
        "alertmanager",
        0,
        ("injection-blocks", "prompt_injection", "critical", "prod"),  # namespace llm-prod
        {"model": "support-llm", "api_key": "key-support-bot"},
    ),
    (
        "prometheus_alertmanager.json",
        "alertmanager",
        1,
        ("token-spend", "api_key_abuse", "medium", "staging"),  # warning; llm-staging
        {"model": "gpt-4o", "api_key": "key-analytics"},
    ),
    (
        "grafana_alerting.json",
        "alertmanager",
        0,
        ("embedding-drift", "data_poisoning", "medium", "staging"),  # env label
        {"model": "support-llm", "dataset": "support-tickets"},
    ),
    (
        "pagerduty_litellm.json",
        "pagerduty",
        0,
        ("litellm-budget", "api_key_abuse", "critical", "prod"),  # group llm-gateway-prod
        {"model": "gpt-4o", "api_key": "team-search"},
    ),
    (
        "cloudevents_llm_guard.json",
        "cloudevents",
        0,
        # type: data.scanner through the route's map; severity: data.risk_level;
        # environment: the `deployment` extension attribute; model: nested data.llm.model
        ("llm-guard", "prompt_injection", "high", "prod"),
        {
            "model": "gpt-4o-mini",
            "api_key": "key-support-bot",
            "agent": "support-bot",
            "tool": "send_email",
        },
    ),
]


@pytest.mark.parametrize(("name", "fmt", "index", "expected", "resources"), SENDERS)
def test_each_sender_routes_with_a_few_lines_of_routes(
    user: RouteTable,
    name: str,
    fmt: str,
    index: int,
    expected: tuple[str, str, str, str],
    resources: dict[str, str],
) -> None:
    alert = routed(user, fmt, fixture(name))[index]
    assert summary(alert) == (*expected, resources)
    assert alert.route_hash == user.content_hash


def test_the_sender_fingerprint_is_kept_unless_a_route_names_fields(user: RouteTable) -> None:
    injection, _ = routed(user, "alertmanager", fixture("prometheus_alertmanager.json"))
    assert injection.fingerprint == "7c1d0b9a4e3f2a65", "Alertmanager's own fingerprint"
    [budget] = routed(user, "pagerduty", fixture("pagerduty_litellm.json"))
    assert budget.fingerprint == "litellm-budget-team-search-20261125"


def test_cloudevents_fingerprint_fields_of_the_route(user: RouteTable) -> None:
    [blocked] = routed(user, "cloudevents", fixture("cloudevents_llm_guard.json"))
    again = fixture("cloudevents_llm_guard.json") | {"id": "another-event"}
    [second] = routed(user, "cloudevents", again)
    assert second.fingerprint == blocked.fingerprint, "route's fingerprint fields"
    other_app = fixture("cloudevents_llm_guard.json")
    other_app["data"]["app"] = "travel-planner"
    [third] = routed(user, "cloudevents", other_app)
    assert third.fingerprint != blocked.fingerprint


def test_cloudevents_binary_mode_extensions_are_fields(user: RouteTable) -> None:
    event = fixture("cloudevents_llm_guard.json")
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
    [blocked] = routed(
        user, "cloudevents", event["data"], **{**headers, "content-type": "application/json"}
    )
    assert (blocked.route, blocked.environment) == ("llm-guard", "prod")


def test_with_defaults_only_the_label_conventions_still_apply(builtin: RouteTable) -> None:
    injection, spend = routed(builtin, "alertmanager", fixture("prometheus_alertmanager.json"))
    assert summary(injection) == (
        "default",
        "guardrailinjectionblockshigh",  # no playbook: triage
        "critical",
        "prod",
        {"model": "support-llm", "api_key": "key-support-bot"},
    )
    assert (spend.severity, spend.environment) == ("medium", "staging")
    [budget] = routed(builtin, "pagerduty", fixture("pagerduty_litellm.json"))
    assert (budget.type, budget.severity, budget.environment) == (
        "budget_exceeded",
        "critical",
        "prod",
    )
    [blocked] = routed(builtin, "cloudevents", fixture("cloudevents_llm_guard.json"))
    assert (blocked.route, blocked.type) == ("default", "blocked")  # last segment of ce.type
    assert blocked.route_hash == builtin.content_hash != load_table(USER_ROUTES).content_hash


def am(labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    alert = {"status": "firing", "labels": labels, "startsAt": "2026-11-25T06:40:00Z"}
    return {"version": "4", "status": "firing", "alerts": [alert | extra]}


def table_of(tmp_path: Path, text: str) -> RouteTable:
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    return load_table(path)


@pytest.mark.parametrize(
    ("labels", "severity", "environment"),
    [
        ({"severity": "P1"}, "critical", "prod"),
        ({"severity": "p2"}, "high", "prod"),
        ({"severity": "P4"}, "low", "prod"),
        ({"severity": "1"}, "critical", "prod"),
        ({"severity": "3"}, "medium", "prod"),
        ({"severity": "5"}, "info", "prod"),
        ({"severity": "Warning"}, "medium", "prod"),
        ({"severity": "info", "env": "dev"}, "info", "dev"),
        ({"tier": "stg"}, "high", "staging"),
        ({"namespace": "payments-staging"}, "high", "staging"),
        ({"namespace": "monitoring"}, "high", "prod"),  # not a tier: the strictest
        ({"environment": "production", "namespace": "x-dev"}, "high", "prod"),
    ],
)
def test_the_built_in_words(
    builtin: RouteTable, labels: dict[str, str], severity: str, environment: str
) -> None:
    [alert] = routed(builtin, "alertmanager", am({"alertname": "A", **labels}))
    assert (alert.severity, alert.environment) == (severity, environment)


def test_numeric_severity_from_a_guardrail(builtin: RouteTable) -> None:
    event = fixture("cloudevents_llm_guard.json")
    event["data"]["severity"] = 2
    [alert] = routed(builtin, "cloudevents", event)
    assert alert.severity == "high"


def test_an_unknown_word_is_a_422_naming_the_field_as_sent(builtin: RouteTable) -> None:
    with pytest.raises(InvalidInput) as info:
        routed(builtin, "alertmanager", am({"alertname": "A", "severity": "spicy"}))
    assert info.value.field == "alerts.0.labels.severity"
    pagerduty = fixture("pagerduty_litellm.json")
    pagerduty["payload"]["custom_details"]["environment"] = "moon"
    with pytest.raises(InvalidInput) as info:
        routed(builtin, "pagerduty", pagerduty)
    assert info.value.field == "payload.custom_details.environment"


def test_first_match_wins_and_unset_attributes_come_from_default(tmp_path: Path) -> None:
    table = table_of(
        tmp_path,
        "routes:\n"
        "  - {id: first, match: {labels.alertname: A}, type: one}\n"
        "  - {id: second, match: {labels.alertname: A}, type: two, severity: info}\n",
    )
    [alert] = routed(table, "alertmanager", am({"alertname": "A", "severity": "warning"}))
    assert (alert.route, alert.type, alert.severity) == ("first", "one", "medium")


def test_regex_is_anchored_and_present_absent(tmp_path: Path) -> None:
    table = table_of(
        tmp_path,
        "routes:\n"
        "  - {id: anchored, match: {labels.alertname: {regex: 'Drift'}}, type: exact}\n"
        "  - {id: contains, match: {labels.alertname: {regex: '.*Drift.*'}}, type: contains}\n"
        "  - {id: keyed, match: {labels.api_key_id: {present: true}}, type: keyed}\n"
        "  - {id: unkeyed, match: {labels.api_key_id: {present: false}}, type: unkeyed}\n",
    )

    def type_of(labels: dict[str, str]) -> str:
        [alert] = routed(table, "alertmanager", am(labels))
        return alert.type

    assert type_of({"alertname": "Drift"}) == "exact"
    assert type_of({"alertname": "EmbeddingDriftHigh"}) == "contains"
    assert type_of({"alertname": "X", "api_key_id": "k"}) == "keyed"
    assert type_of({"alertname": "X", "api_key_id": ""}) == "unkeyed", "empty is absent"
    assert type_of({"alertname": "X"}) == "unkeyed"


@pytest.mark.timeout(60)
def test_a_pattern_that_backtracks_exponentially_in_re_is_matched_in_linear_time(
    tmp_path: Path,
) -> None:
    """Alert text is the attacker's: `(a+)+$` against 40 'a's and a 'b' takes Python's `re`
    about 2**40 steps, and such a value is one webhook away; RE2 answers at once."""
    table = table_of(
        tmp_path,
        "routes:\n"
        "  - {id: nested, match: {labels.alertname: {regex: '(a+)+$'}}, type: nested}\n"
        "  - {id: rest, type: rest}\n",
    )
    [hostile] = routed(table, "alertmanager", am({"alertname": "a" * 40 + "b"}))
    [plain] = routed(table, "alertmanager", am({"alertname": "a" * 40}))
    assert (hostile.route, plain.route) == ("rest", "nested")


def test_match_on_format_source_and_raw_fields(tmp_path: Path) -> None:
    table = table_of(
        tmp_path,
        "routes:\n"
        "  - {id: by-source, match: {source: grafana-eu, format: alertmanager}, type: s}\n"
        "  - {id: by-annotation, match: {annotations.runbook_url: {present: true}}, type: a}\n"
        "  - {id: by-url, match: {generatorURL: {regex: 'http://prom.*'}}, type: g}\n",
    )
    body = am({"alertname": "A"}, generatorURL="http://prometheus:9090/graph")
    assert routed(table, "alertmanager", body, source="grafana-eu")[0].route == "by-source"
    assert routed(table, "alertmanager", body)[0].route == "by-url"
    annotated = am({"alertname": "A"}, annotations={"runbook_url": "https://r"})
    assert routed(table, "alertmanager", annotated)[0].route == "by-annotation"
    assert routed(table, "alertmanager", am({"alertname": "A"}))[0].route == "default"


def test_a_route_sets_environment_fixed_or_from_a_field_and_its_resources(
    tmp_path: Path,
) -> None:
    table = table_of(
        tmp_path,
        "environments: {eu-live-1: prod}\n"
        "routes:\n"
        "  - id: fixed\n"
        "    match: {labels.team: lab}\n"
        "    environment: dev\n"
        "    resources: {agent: labels.bot, api_key: [labels.token_id, labels.key_hash]}\n"
        "  - id: from-cluster\n"
        "    match: {labels.cluster: {present: true}}\n"
        "    environment: {from: labels.cluster, map: {eu-canary: staging}}\n",
    )
    [lab] = routed(
        table,
        "alertmanager",
        am({"alertname": "A", "team": "lab", "bot": "b1", "key_hash": "h1", "model": "m"}),
    )
    assert (lab.environment, lab.resources.agent, lab.resources.api_key) == ("dev", "b1", "h1")
    assert lab.resources.model == "m", "kinds the route leaves out come from default"
    [live] = routed(table, "alertmanager", am({"alertname": "A", "cluster": "EU-LIVE-1"}))
    [canary] = routed(table, "alertmanager", am({"alertname": "A", "cluster": "eu-canary"}))
    assert (live.environment, canary.environment) == ("prod", "staging")


def test_fingerprint_fields_make_distinct_firings_one_condition(tmp_path: Path) -> None:
    table = table_of(
        tmp_path,
        "routes:\n"
        "  - {id: per-model, match: {labels.alertname: A}, fingerprint: [labels.alertname,"
        " labels.model]}\n",
    )
    one, two = (
        routed(table, "alertmanager", am({"alertname": "A", "model": "m", "instance": i}))[0]
        for i in ("10.0.0.1:9", "10.0.0.2:9")
    )
    [other] = routed(table, "alertmanager", am({"alertname": "A", "model": "n"}))
    assert one.fingerprint == two.fingerprint != other.fingerprint
    assert one.workflow_id == two.workflow_id


def test_generic_alerts_keep_what_they_say(builtin: RouteTable) -> None:
    body = {
        "id": "g-1",
        "type": "model_extraction",
        "severity": "low",
        "environment": "dev",
        "resources": {"model": "m"},
        "labels": {"severity": "critical"},
    }
    [alert] = routed(builtin, "generic", body)
    assert summary(alert) == ("default", "model_extraction", "low", "dev", {"model": "m"})
    [unsaid] = routed(builtin, "generic", {"id": "g-2", "type": "t", "labels": {"env": "dev"}})
    assert (unsaid.severity, unsaid.environment) == ("high", "dev"), "labels fill what is unsaid"


def test_a_pagerduty_follow_up_is_not_routed_again(user: RouteTable) -> None:
    resolve = {
        "routing_key": "R02HJ8QK4T6Y9U1W3E5R7T9Y2U4I6O8P",
        "event_action": "resolve",
        "dedup_key": "litellm-budget-team-search-20261125",
    }
    [alert] = routed(user, "pagerduty", resolve)
    assert alert.route is None, "it inherits the trigger's route when recorded"


def test_where_the_routes_file_is_found(tmp_path: Path) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    assert routes_file(Settings(playbooks_dir=playbooks)) is None
    beside = playbooks / "routes.yaml"
    beside.write_text(USER_ROUTES.read_text())
    assert routes_file(Settings(playbooks_dir=playbooks)) == beside
    assert (
        load_routes(Settings(playbooks_dir=playbooks)).content_hash
        == load_table(USER_ROUTES).content_hash
    )
    assert "routes" not in load_playbooks(playbooks), "the routes file is not a playbook"
    named = tmp_path / "elsewhere.yaml"
    named.write_text("routes: []\n")
    settings = Settings(playbooks_dir=playbooks, routes_file=named)
    assert routes_file(settings) == named
    assert [r.id for r in load_routes(settings).routes] == ["otel-genai-security", "default"]


def test_the_hash_names_the_routes_not_their_formatting(tmp_path: Path) -> None:
    a = table_of(tmp_path, "routes: [{id: r, match: {labels.a: x}, type: t}]\n")
    b = table_of(
        tmp_path,
        "# a comment\nroutes:\n  - id: r\n"
        "    match:\n      labels.a: {equals: x}\n    type: {value: t}\n",
    )
    c = table_of(tmp_path, "routes: [{id: r, match: {labels.a: y}, type: t}]\n")
    assert a.content_hash == b.content_hash != c.content_hash
    assert a.content_hash.startswith("sha256:")


def test_numbers_in_a_routes_file_are_words(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        "severities: {0: critical}\n"
        "routes: [{id: prio, match: {labels.code: 7}, severity: {from: labels.prio, map: {9: 5}}}]"
    )
    table = load_table(path)
    [zero] = routed(table, "alertmanager", am({"alertname": "A", "code": "7", "prio": "0"}))
    [nine] = routed(table, "alertmanager", am({"alertname": "A", "code": "7", "prio": "9"}))
    assert (zero.route, zero.severity, nine.severity) == ("prio", "critical", "info")


def test_deeply_nested_sender_fields_are_cut_not_a_5xx(builtin: RouteTable) -> None:
    deep: Any = "bottom"
    for _ in range(900):
        deep = [deep]
    event = fixture("cloudevents_llm_guard.json") | {"ext": deep}
    event["data"] |= {"nested": deep, "labels": {"x": deep}}
    [alert] = routed(builtin, "cloudevents", event)
    assert alert.route == "default"
    pagerduty = fixture("pagerduty_litellm.json")
    pagerduty["payload"]["custom_details"]["nested"] = {"a": {"b": {"c": {"d": {"e": "f"}}}}}
    pagerduty["payload"]["custom_details"]["deep"] = deep
    [trigger] = routed(builtin, "pagerduty", pagerduty)
    assert trigger.type == "budget_exceeded"
