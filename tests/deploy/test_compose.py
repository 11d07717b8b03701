"""`deploy/docker-compose.yml` and `deploy/Dockerfile` are correct by inspection *and* by test:
the schema subset catches misspelt keys, the checks below catch wiring mistakes Compose itself
would only report at deploy time (or never: an unknown FIREBREAK_ variable is silently ignored)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from typer.main import get_command

from orchestrator.cli.main import app
from orchestrator.settings import ENV_PREFIX, Settings
from tests.deploy.compose_schema import COMPOSE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
FIREBREAK_SERVICES = ("init", "api", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _depends(service: dict[str, Any]) -> list[str]:
    deps = service.get("depends_on", [])
    return list(deps) if isinstance(deps, (list, dict)) else []


def test_matches_the_compose_schema_subset(compose: dict[str, Any]) -> None:
    jsonschema.validate(compose, COMPOSE)


def test_schema_subset_rejects_what_compose_would(compose: dict[str, Any]) -> None:
    broken = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    broken["services"]["api"]["depend_on"] = ["init"]  # a typo Compose would reject
    with pytest.raises(jsonschema.ValidationError, match="depend_on"):
        jsonschema.validate(broken, COMPOSE)
    broken = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    broken["services"]["init"]["restart"] = False  # `restart: no` unquoted is a YAML boolean
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, COMPOSE)


def test_has_temporal_postgresql_api_and_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgresql"]["image"].startswith("postgres:")
    assert services["temporal"]["image"].startswith("temporalio/")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["api"]["command"] == ["api"]
    assert services["worker"]["command"] == ["worker"]
    assert any(p.endswith(":8080") for p in services["api"]["ports"])


def test_dependencies_exist_and_have_no_cycle(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dep in _depends(service):
            assert dep in services, f"{name} depends on unknown service {dep}"
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        if name not in done:
            for dep in _depends(services[name]):
                visit(dep, (*path, name))
            done.add(name)

    for name in services:
        visit(name, ())


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"volume {source} is not declared"


def test_every_firebreak_variable_is_a_setting(compose: dict[str, Any]) -> None:
    fields = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for name, service in compose["services"].items():
        for key in _env(service):
            if key.startswith(ENV_PREFIX):
                assert key in fields, f"{name}: {key} is not a Firebreak setting"


def test_firebreak_processes_share_store_temporal_and_keys(compose: dict[str, Any]) -> None:
    services = compose["services"]
    envs = [_env(services[name]) for name in FIREBREAK_SERVICES]
    for key in ("FIREBREAK_DATABASE_URL", "FIREBREAK_KEYRING_FILE", "FIREBREAK_TEMPORAL_ADDRESS"):
        assert len({env[key] for env in envs}) == 1, f"{key} differs between services"
    volumes = [set(services[name]["volumes"]) for name in FIREBREAK_SERVICES]
    assert volumes[0] == volumes[1] == volumes[2], "the key ring volume must be shared"
    env = envs[0]
    db_host = re.search(r"@([^:/]+)", env["FIREBREAK_DATABASE_URL"])
    assert db_host and db_host.group(1) in services
    assert env["FIREBREAK_TEMPORAL_ADDRESS"].split(":")[0] in services
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_dockerfile_copies_what_exists_and_runs_firebreak() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
    assert 'ENTRYPOINT ["firebreak"]' in text
    assert re.search(r"^USER (?!root)\S+", text, flags=re.MULTILINE), "must not run as root"


def test_build_context_and_dockerfile_resolve(compose: dict[str, Any]) -> None:
    for name in FIREBREAK_SERVICES:
        build = compose["services"][name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).is_file()


def test_commands_are_firebreak_commands(compose: dict[str, Any]) -> None:
    root = get_command(app)
    context = typer.Context(root)
    for name in FIREBREAK_SERVICES:
        command, *args = compose["services"][name]["command"]
        found = root.get_command(context, command)  # type: ignore[attr-defined]
        assert found is not None, f"{name}: `firebreak {command}` does not exist"
        known = {opt for param in found.params for opt in param.opts}
        for arg in args:
            assert arg in known, f"{name}: `firebreak {command}` has no option {arg}"


def _seconds(duration: str) -> float:
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(us|ms|s|m|h)", duration))


@pytest.mark.parametrize(
    ("service", "setting"), [("api", "api_shutdown_seconds"), ("worker", "worker_shutdown_seconds")]
)
def test_docker_waits_out_the_graceful_stop(
    compose: dict[str, Any], service: str, setting: str
) -> None:
    """docker stop sends SIGTERM and SIGKILLs after `stop_grace_period` (10 s by default): it
    must outlast the process's grace plus the 10 s margin docs/production.md states."""
    env = _env(compose["services"][service])
    grace = float(env.get(f"{ENV_PREFIX}{setting.upper()}", Settings.model_fields[setting].default))
    assert _seconds(compose["services"][service]["stop_grace_period"]) >= grace + 10
