"""Running `firebreak` as a user does, in a subprocess, for the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from temporalio.client import Client

from orchestrator.settings import Settings
from tests.e2e.procs import alive, descendants, in_group

FIREBREAK = [str(Path(sys.executable).parent / "firebreak")]
READY_LINE = "Firebreak is up."
START_SECONDS = 120


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    log: Path
    api_url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    return env | {"FIREBREAK_DATA_DIR": str(data_dir)} | extra


def split_env(settings: Settings, client: Client, **extra: str) -> dict[str, str]:
    """The environment of a `firebreak api` or `firebreak worker` process on `settings`' data
    dir and task queue, talking to the test's Temporal server."""
    return env_for(
        settings.data_dir,
        FIREBREAK_TASK_QUEUE=settings.task_queue,
        FIREBREAK_TEMPORAL_ADDRESS=client.service_client.config.target_host,
        **extra,
    )


def finished(
    argv: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`argv` run to its end, as a user's shell would: its exit code and text output."""
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


def up_argv(data_dir: Path, ports: dict[str, int], *extra: str) -> list[str]:
    return [
        *FIREBREAK,
        "up",
        "--data-dir",
        str(data_dir),
        "--api-port",
        str(ports["api"]),
        "--temporal-port",
        str(ports["temporal"]),
        "--temporal-ui-port",
        str(ports["ui"]),
        *extra,
    ]


@contextlib.contextmanager
def running_up(data_dir: Path, ports: dict[str, int], log: Path) -> Iterator[Stack]:
    """`firebreak up` in its own session (like a terminal job); killed hard only on failure."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            up_argv(data_dir, ports),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env_for(data_dir),
            start_new_session=True,
        )
    stack = Stack(process, log, f"http://127.0.0.1:{ports['api']}")
    try:
        deadline = time.monotonic() + START_SECONDS
        while READY_LINE not in stack.output():
            assert process.poll() is None, f"firebreak up exited:\n{stack.output()}"
            assert time.monotonic() < deadline, f"firebreak up not ready:\n{stack.output()}"
            time.sleep(0.2)
        yield stack
    finally:
        if process.poll() is None:
            for pid in descendants(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stop_with_ctrl_c(stack: Stack) -> None:
    """SIGINT like Ctrl-C; up must exit 0 and take its Temporal server with it."""
    children = descendants(stack.process.pid)
    assert children, "the embedded Temporal server should run under firebreak up"
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=60) == 0, stack.output()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in children), f"left behind: {children}"
    for pid in children:
        assert in_group(pid) == set()
    assert "Firebreak stopped." in stack.output()


@contextlib.contextmanager
def running(command: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`firebreak COMMAND` (api, worker) with its output appended to `log`; stopped on exit."""
    with log.open("ab") as out:
        proc = subprocess.Popen([*FIREBREAK, command], env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=30)


T = TypeVar("T")


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")
