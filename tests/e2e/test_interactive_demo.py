"""`firebreak demo --interactive`: a person approves with the commands the demo prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.stack import FIREBREAK, env_for, finished, running_up, stop_with_ctrl_c

pytestmark = pytest.mark.slow


def test_interactive_demo_waits_for_the_printed_commands(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    data_dir = tmp_path / "data"
    bin_dir = str(Path(sys.executable).parent)
    with running_up(data_dir, ports, tmp_path / "up.log") as stack:
        env = env_for(data_dir, FIREBREAK_API_URL=stack.api_url)
        env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
        demo = subprocess.Popen(
            [*FIREBREAK, "demo", "--interactive", "--timeout", "180"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert demo.stdout is not None
        transcript, ran = [], []
        expect_command = False
        for line in demo.stdout:
            transcript.append(line)
            if expect_command:
                command = line.strip()
                answer = finished(["bash", "-c", command], env, timeout=60)
                assert answer.returncode == 0, command + answer.stdout + answer.stderr
                ran.append(command)
            expect_command = "waiting for you; as" in line
        assert demo.wait(timeout=60) == 0, "".join(transcript)
        stop_with_ctrl_c(stack)
    # snapshot (extraction, and the detected sweep), quarantine, rollback and promotion twice
    # each (two people), restore key
    assert len(ran) == 8
    assert sum(c.endswith(" snapshot-model") for c in ran) == 2
    assert sum(c.endswith(" promote-retrained") for c in ran) == 2
    assert all(" approve incident-" in c and "fbk_" not in c for c in ran)  # tokens stay in files
    assert "rollback-model by alice and bob" in "".join(transcript)
