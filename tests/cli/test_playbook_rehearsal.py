"""`firebreak playbooks test`: a playbook rehearsed on a throwaway lab by the real workflow and
activities (time-skipping server), and the cases shipped with the built-ins, run as a user's CI
would run them: the command, its output and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.playbooks.loader import builtin_playbooks
from orchestrator.runtime.cases import BUILTIN_CASES, case_files, load_case

ROOT = Path(__file__).parents[2]
CASES = Path(str(BUILTIN_CASES))
FIREBREAK = [sys.executable, "-c", "from orchestrator.cli.main import main; main()"]


def firebreak(
    *args: str, timeout: float = 600, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_vars}
    return subprocess.run(
        [*FIREBREAK, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def test_every_builtin_playbook_has_a_case_and_data_poisoning_its_failing_variant() -> None:
    cases = [load_case(p) for p in case_files(CASES)]
    assert {c.playbook for c in cases} == set(builtin_playbooks())
    strict = [c for c in cases if c.params.get("evaluate-retrained", {}).get("min_score")]
    assert strict and strict[0].expect.steps["promote-retrained"].value == "skipped"


@pytest.mark.slow
def test_the_shipped_cases_pass() -> None:
    result = firebreak("playbooks", "test", "--cases", str(CASES))
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(case_files(CASES))
    assert result.stdout.count("\nok  ") + result.stdout.startswith("ok  ") == count
    assert f"0 of {count} case(s) failed" in result.stdout


def test_a_difference_fails_with_a_readable_diff(tmp_path: Path) -> None:
    doc = yaml.safe_load((CASES / "data_poisoning_failed_validation.yaml").read_text())
    doc["expect"]["steps"]["promote-retrained"] = "succeeded"
    doc["expect"]["outputs"]["evaluate-retrained"]["passed"] = "true"
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(doc))
    result = firebreak("playbooks", "test", "--cases", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  wrong.yaml" in result.stdout
    assert "  - step promote-retrained: expected succeeded, got skipped" in result.stdout
    assert "  - step evaluate-retrained: output passed: expected 'true', got 'false'" in (
        result.stdout
    )
    assert "1 of 1 case(s) failed" in result.stdout


def test_a_rehearsal_prints_params_approvals_outputs_and_compensations(tmp_path: Path) -> None:
    alert = tmp_path / "alert.json"
    alert.write_text(
        json.dumps(
            {
                "type": "model_inversion",
                "environment": "prod",
                "title": "probe <script>alert(1)</script>",
                "resources": {"api_key": "key-analytics", "model": "fraud-detector"},
            }
        )
    )
    result = firebreak(
        "playbooks",
        "test",
        "model-inversion",
        "--alert",
        str(alert),
        "--decide",
        "rollback-model=approve",
        "--decide",
        "restore-caller-key=abort",
        # Production settings in the environment: the rehearsal must not reach them.
        FIREBREAK_DATABASE_URL="postgresql+psycopg://prod.invalid/firebreak",
        FIREBREAK_MODELS_PROVIDER="mlflow",
        FIREBREAK_NOTIFY_URLS='["json://prod.invalid/hook"]',
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "playbook model-inversion in prod" in out
    assert "eradication/rollback-model: models.rollback -> compensated" in out
    assert "  asks 2 approval(s) of responders in prod, escalation to security-lead" in out
    assert "  answered: approve; approved by rehearsal-alice, rehearsal-bob" in out
    assert "  output to_version = '2'" in out
    assert "compensated rollback-model with models.restore:" in out
    assert "compensated revoke-caller-key with keys.restore:" in out
    assert out.rstrip().endswith("outcome: aborted")
    assert "WARN" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model-inversion", "--alert", "{alert}", "--decide", "nope=approve"], "no such step"),
        (["model-inversion", "--alert", "{alert}", "--decide", "rollback-model=maybe"], "is not"),
        (["model-inversion", "--alert", "{alert}", "--decide", "rollback-model"], "STEP=ANSWER"),
        (["api-key-abuse", "--alert", "{alert}"], "handles api_key_abuse, not"),
        (["no-such-playbook", "--alert", "{alert}"], "no playbook file or built-in"),
        (["model-inversion", "--alert", "{bad}"], "not valid JSON"),
        (["model-inversion"], "give PLAYBOOK and --alert"),
        (["model-inversion", "--cases", "{dir}"], "--cases runs the cases alone"),
        (["--cases", "{dir}"], "no case files"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "alert.json").write_text(json.dumps({"type": "model_inversion"}))
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    names = {"alert": tmp_path / "alert.json", "bad": tmp_path / "bad.json"}
    names["dir"] = tmp_path / "empty"
    result = firebreak("playbooks", "test", *(a.format(**names) for a in args), timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
