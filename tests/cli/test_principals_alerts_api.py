"""`firebreak principals`, `firebreak alert send` and `firebreak api` as users run them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from orchestrator.audit import EventStore
from orchestrator.cli.main import app as cli
from orchestrator.principals.service import add_webhook_secret, authenticate
from orchestrator.settings import Settings
from tests.support.app import FIXTURES
from tests.support.ports import free_port
from tests.support.principals import Tokens
from tests.support.server import serving

FIREBREAK = str(Path(sys.executable).with_name("firebreak"))


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "FIREBREAK_DATA_DIR": str(settings.data_dir),
        "FIREBREAK_DATABASE_URL": settings.db_url,
        **extra,
    }


def test_principals_create_list_revoke(api_settings: Settings, store: EventStore) -> None:
    runner = CliRunner()
    env = env_for(api_settings)
    created = runner.invoke(
        cli,
        [
            "principals",
            "create",
            "pager",
            "--role",
            "responder",
            "--env",
            "prod",
            "--env",
            "staging",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("fbk_") and "\n" not in token
    principal = authenticate(store.engine, token)
    assert principal is not None and {e.value for e in principal.environments} == {
        "prod",
        "staging",
    }

    listed = runner.invoke(cli, ["principals", "list", "--json"], env=env)
    assert listed.exit_code == 0
    assert '"pager"' in listed.stdout and token not in listed.stdout

    secret = runner.invoke(cli, ["principals", "secret", "pager"], env=env)
    assert secret.exit_code == 0 and secret.stdout.strip().startswith("whsec_")

    revoked = runner.invoke(cli, ["principals", "revoke", "pager"], env=env)
    assert revoked.exit_code == 0
    assert authenticate(store.engine, token) is None


def test_user_mistakes_are_one_line(api_settings: Settings, store: EventStore) -> None:
    env = {**os.environ, **env_for(api_settings)}
    for args, needle in (
        (["principals", "revoke", "nobody"], "no active principal 'nobody'"),
        (["principals", "create", "bad name!", "--role", "auditor"], "name must be"),
        (["alert", "send", "/no/such/file.json", "--format", "generic"], "cannot read"),
    ):
        done = subprocess.run(
            [FIREBREAK, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        assert done.stderr.strip().count("\n") == 0, done.stderr
        assert needle in done.stderr and "Traceback" not in done.stderr


async def test_alert_send_plain_and_signed_over_http(
    app: FastAPI, tokens: Tokens, store: EventStore, api_settings: Settings
) -> None:
    runner = CliRunner()
    assert store.keyring is not None
    async with serving(app) as url:
        env = env_for(api_settings, FIREBREAK_API_URL=url, FIREBREAK_TOKEN=tokens.source)
        args = [
            "alert",
            "send",
            str(FIXTURES / "alertmanager_firing.json"),
            "--format",
            "alertmanager",
        ]
        sent = await asyncio.to_thread(runner.invoke, cli, args, env=env)
        assert sent.exit_code == 0, sent.output
        assert len(sent.stdout.split()) == 2  # two incident ids

        secret = add_webhook_secret(store.engine, store.keyring, "detector")
        batch = ["alert", "send", str(FIXTURES / "cloudevents_batch.json"), "-f", "cloudevents"]
        unsigned = await asyncio.to_thread(runner.invoke, cli, batch, env=env)
        assert unsigned.exit_code != 0
        assert "HTTP 401" in str(unsigned.exception)
        signed = await asyncio.to_thread(
            runner.invoke, cli, [*batch, "--json"], env={**env, "FIREBREAK_SOURCE_SECRET": secret}
        )
        assert signed.exit_code == 0, signed.output
        assert '"incidents"' in signed.stdout


@pytest.mark.usefixtures("tokens")
def test_firebreak_api_serves_health_and_readiness(
    api_settings: Settings, temporal_dev_env: object
) -> None:
    port = free_port()
    target = temporal_dev_env.client.service_client.config.target_host  # type: ignore[attr-defined]
    env = {
        **os.environ,
        **env_for(api_settings, FIREBREAK_API_PORT=str(port), FIREBREAK_TEMPORAL_ADDRESS=target),
    }
    proc = subprocess.Popen(
        [FIREBREAK, "api"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "firebreak api did not start"
                time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {
            "status": "ok",
            "checks": {},
        }
        assert httpx.get(f"http://127.0.0.1:{port}/v1/incidents").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
