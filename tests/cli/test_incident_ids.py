"""Incident ids a person can read and type: tables at 80 columns print short ids whole, every
command takes a unique prefix (with or without `incident-`), an ambiguous one is refused with
its matches, and SQL wildcards in a prefix are only characters. Against the real API."""

from __future__ import annotations

import json
from functools import partial

import httpx
import pytest
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.cli.ids import SHORT, short_ids
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.cli.test_incidents_approvals import firebreak, run_main
from tests.support.app import bearer
from tests.support.incidents import eventually, make_alert
from tests.support.principals import Tokens


def test_short_ids_grow_only_where_two_would_collide() -> None:
    a = "incident-" + "ab" * 10 + ".11111111-1111-1111-1111-111111111111"
    b = "incident-" + "ab" * 7 + "cd" * 3 + ".22222222-2222-2222-2222-222222222222"
    c = "incident-" + "ff" * 10 + ".33333333-3333-3333-3333-333333333333"
    same_key = a.replace("1111", "4444")  # the same correlation key opened again later
    shorts = short_ids([a, b, c, same_key])
    assert shorts[c] == "ff" * (SHORT // 2)
    assert len(shorts[a]) > len("ab" * 7) and not b.removeprefix("incident-").startswith(shorts[a])
    assert len(set(shorts.values())) == 4
    for full, short in shorts.items():
        matching = [i for i in shorts if i.removeprefix("incident-").startswith(short)]
        assert matching == [full]


async def test_prefixes_and_narrow_tables(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, tokens = api
    opened = []
    for n in range(2):
        alert = make_alert(lab, "prompt_injection", Environment.dev, fingerprint=f"ids-{n}")
        opened.append(
            (await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)).incident_id
        )

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def listed() -> list[str] | None:
            r = await http.get("/v1/incidents", headers=bearer(tokens.devon))
            ids = [i["id"] for i in r.json()["items"]]
            return ids if set(opened) <= set(ids) else None

        await eventually(listed, timeout=60)
        wildcard = await http.get(
            "/v1/incidents", params={"id_prefix": "incident_"}, headers=bearer(tokens.devon)
        )
        assert wildcard.status_code == 200 and wildcard.json()["items"] == []
        refused = await http.get(
            "/v1/incidents", params={"id_prefix": "incident-%"}, headers=bearer(tokens.devon)
        )
        assert refused.status_code == 422

    cli = partial(firebreak, monkeypatch, url, tokens.devon)
    monkeypatch.setenv("COLUMNS", "80")
    table = await cli("incidents", "list")
    assert table.exit_code == 0, table.error
    shorts = short_ids(opened)
    for incident in opened:
        assert shorts[incident] in table.output  # whole, on one line, at 80 columns
    assert "…" not in table.output  # cells wrap; nothing is cut

    first = opened[0]
    for typed in (shorts[first], "incident-" + shorts[first], first[: len("incident-") + 6]):
        if typed == first[: len("incident-") + 6] and opened[1].startswith(typed):
            continue  # two random ids may share six digits; the shorts above cover uniqueness
        shown = await cli("incidents", "show", typed, "--json")
        assert shown.exit_code == 0, shown.error
        assert json.loads(shown.output)["id"] == first
    report = await cli("incidents", "report", shorts[first], "--format", "json")
    assert report.exit_code == 0 and json.loads(report.output)["incident_id"] == first

    ambiguous = await cli("incidents", "show", "incident-")
    assert ambiguous.exit_code == 2
    assert "matches several incidents" in ambiguous.error
    assert all(incident in ambiguous.error for incident in opened)
    none = await cli("incidents", "timeline", "0000000000zz")
    assert none.exit_code == 1 and "no incident matches '0000000000zz'" in none.error
    hostile = await cli("approve", "abc%' OR 1=1 --", "step")
    assert hostile.exit_code == 2 and "not an incident id or prefix" in hostile.error
    assert all(r.error.count("\n") == 1 for r in (ambiguous, none, hostile))

    out_of_scope = await firebreak(monkeypatch, url, tokens.ben, "incidents", "show", shorts[first])
    assert out_of_scope.exit_code == 1 and "no incident matches" in out_of_scope.error


def test_listing_commands_speak_json() -> None:
    playbooks = run_main(["playbooks", "list", "--json"])
    assert playbooks.exit_code == 0, playbooks.error
    ids = [p["id"] for p in json.loads(playbooks.output)]
    text = run_main(["playbooks", "list"])
    assert ids == [line.split("\t")[0] for line in text.output.splitlines()]
    assert {"prompt-injection", "data-poisoning"} <= set(ids)
    routes = run_main(["routes", "list", "--json"])
    assert routes.exit_code == 0, routes.error
    parsed = json.loads(routes.output)
    assert parsed["routes"] and len(parsed["content_hash"]) >= 64
