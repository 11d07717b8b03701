"""`firebreak suppress create|list|end` against the real API under uvicorn: one line out, and
one line and exit 2 for input it cannot use."""

from __future__ import annotations

from functools import partial

import pytest

from orchestrator.audit import open_event_store
from orchestrator.settings import Settings
from tests.cli.test_incidents_approvals import firebreak
from tests.support.principals import Tokens


async def test_a_responder_creates_lists_and_ends_a_window(
    api_alone: tuple[str, Tokens], fb_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, tokens = api_alone
    cli = partial(firebreak, monkeypatch, url)
    created = await cli(
        tokens.ben,
        "suppress", "create",
        "--match", "labels.alertname=NodeDown",
        "--match", "labels.instance=~db-.*",
        "--match", "!labels.canary",
        "--until", "2h",
        "--reason", "CHG-1042 failover drill",
    )  # fmt: skip
    assert created.exit_code == 0, created.error
    [line] = created.output.splitlines()
    window_id, state, envs, until, match, reason = line.split("\t")
    assert (state, envs, reason) == ("active", "prod", "CHG-1042 failover drill")
    assert until.startswith("until 20")
    assert match == "labels.alertname=NodeDown,labels.instance=~db-.*,!labels.canary"

    listed = await cli(tokens.audrey, "suppress", "list")
    assert listed.exit_code == 0, listed.error
    assert [row.split("\t")[0] for row in listed.output.splitlines()] == [window_id]

    refused = await cli(tokens.audrey, "suppress", "end", window_id)
    assert refused.exit_code == 1
    assert refused.error.startswith("firebreak: HTTP 403") and len(refused.error.splitlines()) == 1

    ended = await cli(tokens.ben, "suppress", "end", window_id, "--reason", "drill done")
    assert ended.exit_code == 0, ended.error
    assert ended.output.split("\t")[1] == "ended"
    assert (await cli(tokens.ben, "suppress", "list")).output == ""
    past = await cli(tokens.ben, "suppress", "list", "--all")
    assert past.output.split("\t")[:2] == [window_id, "ended"]
    events = open_event_store(fb_settings).read_stream(f"suppression-{window_id}")
    assert [e.type for e in events] == ["SuppressionCreated", "SuppressionEnded"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--match", "alertname=NodeDown", "--until", "2h"], "unknown field 'alertname'"),
        (["--match", "labels.x=~(", "--until", "2h"], "invalid regular expression"),
        (["--match", "=x", "--until", "2h"], "expected FIELD=VALUE"),
        (["--match", "labels.x=1", "--until", "soon"], "expected a duration"),
        (["--match", "labels.x=1", "--until", "2026-12-01T18:00"], "give a time zone"),
        (["--match", "labels.x=1", "--until", "60d"], "more than 30 days"),
        (["--match", "labels.x=1", "--until", "2020-01-01T00:00Z"], "before it holds"),
        (["--match", "labels.x=1", "--until", "2h", "--env", "dev"], "HTTP 403"),
    ],
)
async def test_bad_input_is_one_line(
    api_alone: tuple[str, Tokens],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    url, tokens = api_alone
    result = await firebreak(
        monkeypatch, url, tokens.ben, "suppress", "create", "--reason", "r", *args
    )
    assert result.exit_code == (1 if "403" in message else 2), result.error
    assert message in result.error
    assert len(result.error.strip().splitlines()) == 1
    assert result.output == ""
