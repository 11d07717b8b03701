"""Every invalid routes file is refused at load time with one line naming the file, the route
and the field at fault, never a traceback or a route that silently never matches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.errors import InvalidInput
from orchestrator.routing.service import load_table

INVALID = [
    # (routes file, what the one line must say)
    ("routes: [{match: {labels.alertname: X}, type: t}]", "route #1: id: Field required"),
    ("routes: [{id: Bad Id, type: t}]", "route Bad Id: id: String should match pattern"),
    ("routes: [{id: a, typo: x}]", "route a: typo: Extra inputs are not permitted"),
    ("routes: [{id: a, match: {alertname: X}}]", "route a: match.alertname: unknown field"),
    ("routes: [{id: a, match: {alertname: X}}]", "(a label is labels.alertname)"),
    ("routes: [{id: a, match: {labels.: X}}]", "route a: match.labels.: unknown field"),
    (
        "routes: [{id: a, match: {labels.x: {regex: '('}}}]",
        "route a: match.labels.x.regex: invalid regular expression '('",
    ),
    (
        "routes: [{id: a, match: {labels.x: {regex: 'prod(?!-canary).*'}}}]",
        "route a: match.labels.x.regex: invalid regular expression 'prod(?!-canary).*': invalid"
        " perl operator: (?! (RE2 syntax: no lookaround or backreferences)",
    ),
    (
        "routes: [{id: a, match: {labels.x: {equals: a, regex: b}}}]",
        "route a: match.labels.x: give exactly one of 'equals', 'regex' or 'present'",
    ),
    ("routes: [{id: a, match: {labels.x: true}}]", "route a: match.labels.x: a bare true/false"),
    (
        "routes: [{id: a, match: {format: nagios}}]",
        "route a: match: format 'nagios' is not one of alertmanager, cloudevents",
    ),
    ("routes: [{id: a, type: Not A Type}]", "route a: type.value: 'Not A Type' is not a type"),
    (
        "routes: [{id: a, type: {from: labels.x, map: {y: 'B A D'}}}]",
        "route a: type.map.y: 'B A D' is not a type",
    ),
    (
        "routes: [{id: a, type: {value: t, from: labels.x}}]",
        "route a: type: give exactly one of 'value' or 'from'",
    ),
    (
        "routes: [{id: a, type: {from: []}}]",
        "route a: type.from: Value should have at least 1 item",
    ),
    ("routes: [{id: a, type: {from: rule}}]", "route a: type.from.0.field: unknown field 'rule'"),
    (
        "routes: [{id: a, type: {from: {field: labels.x, regex: '[a'}}}]",
        "route a: type.from.0.regex: invalid regular expression",
    ),
    (
        "routes: [{id: a, severity: apocalyptic}]",
        "route a: severity.value: 'apocalyptic' is not a known severity (info, low, medium",
    ),
    (
        "routes: [{id: a, severity: {from: labels.p, map: {sev0: urgent}}}]",
        "route a: severity.map.sev0: 'urgent' is not a known severity",
    ),
    (
        "routes: [{id: a, environment: moon}]",
        "route a: environment.value: 'moon' is not a known environment (dev, staging, prod",
    ),
    (
        "routes: [{id: a, environment: {from: labels.e, default: qa}}]",
        "route a: environment.default: 'qa' is not a known environment",
    ),
    (
        "routes: [{id: a, severity: critical, map: {x: y}}]",
        "route a: map: Extra inputs are not permitted",
    ),
    (
        "routes: [{id: a, severity: {value: critical, map: {x: high}}}]",
        "route a: severity: 'map' and 'default' go with 'from'",
    ),
    (
        "routes: [{id: a, resources: {wallet: labels.w}}]",
        "route a: resources: unknown resource 'wallet' (one of model",
    ),
    ("routes: [{id: a, resources: {model: nope}}]", "route a: resources.model.0.field: unknown"),
    ("routes: [{id: a, fingerprint: []}]", "route a: fingerprint: List should have at least 1"),
    ("routes: [{id: a, fingerprint: [alertname]}]", "route a: fingerprint.0: unknown field"),
    (
        "routes: [{id: a, correlation: {entities: [wallet], window_seconds: 60}}]",
        "route a: correlation.entities: unknown entity 'wallet' (one of api_key, model",
    ),
    (
        "routes: [{id: a, correlation: {entities: [model_version], window_seconds: 60}}]",
        "route a: correlation.entities: unknown entity 'model_version'",
    ),
    (
        "routes: [{id: a, correlation: {entities: [model, model], window_seconds: 60}}]",
        "route a: correlation.entities: an entity is named twice",
    ),
    (
        "routes: [{id: a, correlation: {entities: [], window_seconds: 60}}]",
        "route a: correlation.entities: List should have at least 1",
    ),
    (
        "routes: [{id: a, correlation: {entities: [model], window_seconds: 0}}]",
        "route a: correlation.window_seconds: Input should be greater than or equal to 1",
    ),
    (
        "routes: [{id: a, correlation: {entities: [model], window_seconds: 604801}}]",
        "route a: correlation.window_seconds: Input should be less than or equal to 604800",
    ),
    (
        "routes: [{id: a, correlation: {entities: [model]}}]",
        "route a: correlation.window_seconds: Field required",
    ),
    (
        "routes: [{id: a, correlation: {entities: [model], window_seconds: 9, forever: true}}]",
        "route a: correlation.forever: Extra inputs are not permitted",
    ),
    ("routes: [{id: a}, {id: a}]", "route a: id: used by an earlier route"),
    ("routes: [{id: default}]", "route default: id: 'default' is a built-in route"),
    (
        "routes: [{id: everything, type: t}, {id: b, match: {labels.x: y}}]",
        "route everything: match: matches every alert, so the routes after it never match",
    ),
    ("severities: {sev0: apocalyptic}", "severities.sev0: Input should be 'info', 'low'"),
    ("route: []", "route: Extra inputs are not permitted"),
    ("routes: {a: 1}", "routes: Input should be a valid list"),
    ("- id: a", "a routes file is a YAML mapping with a 'routes' list"),
    ("routes: [{id: a", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_an_invalid_rule_is_refused_in_one_line_naming_file_route_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as info:
        load_table(path)
    detail = info.value.detail
    assert detail.startswith(f"{path}: "), detail
    assert expected in detail, detail
    assert "\n" not in detail


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"routes\.yaml: cannot read: No such file"):
        load_table(tmp_path / "routes.yaml")


def test_valid_shapes_load(tmp_path: Path) -> None:
    """The shorthands the docs show: a bare value is a fixed value or an equality, one field
    may stand for a list, an empty file is no routes."""
    path = tmp_path / "routes.yaml"
    path.write_text(
        "severities: {sev0: critical, 0: critical}\n"
        "environments: {eu-live: prod}\n"
        "routes:\n"
        "  - {id: one-line, match: {labels.alertname: TokenSpend}, type: api_key_abuse}\n"
        "  - id: full\n"
        "    match: {labels.code: 7, labels.x: {present: false}, ce.type: {regex: 'a\\..*'}}\n"
        "    type: {from: [labels.rule, {field: labels.kind, regex: 'k-(.*)'}], default: misc}\n"
        "    severity: {from: labels.level, map: {urgent: sev0, 0: critical, 9: 5}}\n"
        "    environment: {from: labels.cluster, map: {live: eu-live}}\n"
        "    resources: {api_key: [labels.key_hash, labels.key]}\n"
        "    fingerprint: [labels.rule, source]\n"
    )
    table = load_table(path)
    assert [r.id for r in table.routes] == ["one-line", "full", "otel-genai-security", "default"]
    full = table.get("full")
    assert full.match["labels.code"].equals == "7"
    assert full.severity is not None and full.severity.map == {
        "urgent": "sev0",
        "0": "critical",
        "9": "5",
    }
    assert full.type is not None and [s.field for s in full.type.from_ or []] == [
        "labels.rule",
        "labels.kind",
    ]
    assert table.origins == {
        "one-line": str(path),
        "full": str(path),
        "otel-genai-security": "builtin",
        "default": "builtin",
    }
    path.write_text("")
    assert [r.id for r in load_table(path).routes] == ["otel-genai-security", "default"]


def test_the_documented_examples_load(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "alert-formats.md").read_text()
    section = doc.split("\n## Routing\n", 1)[1]
    examples = re.findall(r"```yaml\n(.*?)\n```", section, re.S)
    assert len(examples) == 3
    path = tmp_path / "routes.yaml"
    for example in examples:
        path.write_text(example)
        assert load_table(path).routes[0].id in ("token-spend", "embedding-drift", "key-injection")
