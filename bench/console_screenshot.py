"""The console's Metrics page from a real run, as a PNG for docs/observability.md.

Starts `firebreak up --demo` in a temporary data dir on ports the OS picks, waits until the
demo's incidents are done ("Still serving." on its output), then sends one more alert in prod
through the real webhook API (`firebreak alert`-shaped JSON, the admin token) so that something
waits for an approval, signs in to the console in headless Debian Chromium through the sign-in
form and saves `/console/metrics` full page. Everything runs on loopback; nothing is mocked.

    .venv/bin/python bench/console_screenshot.py docs/images/console-metrics.png

Chromium: /usr/bin/chromium (Debian package `chromium`, `.ci/install-browser`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
FIREBREAK = Path(sys.executable).parent / "firebreak"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEMO_SECONDS = 600.0
TOKEN_FILE = re.compile(r"saved to (\S+) \(mode 0600\)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def firebreak_up(data_dir: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`firebreak up --demo` in its own process group, stopped (everything it started) on exit."""
    api_port = free_port()
    args = [str(FIREBREAK), "up", "--demo", "--data-dir", str(data_dir)]
    args += ["--api-port", str(api_port), "--temporal-port", str(free_port())]
    args += ["--temporal-ui-port", str(free_port())]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIREBREAK_", "OTEL_"))}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's code, whatever the venv has installed
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield f"http://127.0.0.1:{api_port}", proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_demo(log: Path, proc: subprocess.Popen[bytes]) -> str:
    """The admin token, once the demo has finished; its output on failure."""
    deadline = time.monotonic() + DEMO_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Still serving." in text:
            found = TOKEN_FILE.search(text)
            if found is None:
                raise SystemExit(f"no admin token file in the output:\n{text}")
            return Path(found.group(1)).read_text().strip()
        if proc.poll() is not None or "demo failed" in text:
            raise SystemExit(f"firebreak up --demo did not finish its demo:\n{text}")
        time.sleep(0.5)
    raise SystemExit(f"the demo took more than {DEMO_SECONDS:.0f}s:\n{log.read_text()}")


def one_more_alert(api_url: str, token: str) -> None:
    """A prompt injection in prod: its eradication step waits for a responder's approval."""
    alert = {
        "id": "screenshot-run-1",
        "type": "prompt_injection",
        "severity": "high",
        "environment": "prod",
        "title": "Injection against the support agent (screenshot run)",
        "fingerprint": "screenshot-run",
        "resources": {
            "api_key": "key-support-bot",
            "model": "fraud-detector",
            "agent": "support-bot",
            "tool": "send_email",
        },
    }
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{api_url}/v1/alerts/generic", json=alert, headers=headers, timeout=60)
    if response.status_code != 202:
        raise SystemExit(f"the extra alert was refused: {response.status_code} {response.text}")
    [incident] = response.json()["incidents"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        url = f"{api_url}/v1/incidents/{incident}"
        detail = httpx.get(url, headers=headers, timeout=30).json()
        if detail.get("pending_count"):
            return
        time.sleep(0.5)
    raise SystemExit(f"incident {incident} never asked for an approval: {detail}")


async def screenshot(api_url: str, token: str, out: Path) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        page = await context.new_page()
        await page.goto(f"{api_url}/console/login")
        await page.fill("#token", token)
        async with page.expect_navigation():
            await page.click("form button[type=submit]")
        await page.goto(f"{api_url}/console/metrics")
        await page.locator("#containment svg").wait_for()
        out.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(out), full_page=True)
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG to write")
    out = parser.parse_args().out.resolve()
    with tempfile.TemporaryDirectory(prefix="firebreak-screenshot-") as tmp:
        log = Path(tmp) / "up.log"
        with firebreak_up(Path(tmp) / "data", log) as (api_url, proc):
            token = wait_for_demo(log, proc)
            one_more_alert(api_url, token)
            asyncio.run(screenshot(api_url, token, out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
