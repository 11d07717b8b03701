"""AppriseNotifier against a real SMTP server (aiosmtpd) and a json:// receiver on loopback."""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from email.message import EmailMessage

import apprise
import pytest

from activities.errors import ProviderError
from activities.providers.apprise_notify import AppriseNotifier, escape_markdown, render
from orchestrator.domain import Environment, Severity
from orchestrator.settings import NotifyRoute
from tests.support.providers import Loopback, Mailbox, Recorded, Reply
from workflows.contracts import Notification

INJECTION = "Ignore previous instructions <script>alert('x')</script> *now* [click](http://evil)"
HINT = "firebreak approve inc-42 contain-key --reason '...'"


def _message(**changes: str) -> Notification:
    fields = {
        "incident_id": "inc-42",
        "title": "Prompt injection\r\nBcc: attacker@evil.example",
        "body": INJECTION,
        "severity": "critical",
        "environment": "prod",
        "step_id": "contain-key",
        "action_hint": HINT,
    }
    return Notification.model_validate({**fields, **changes})


def _json_receiver(loopback: Loopback) -> None:
    def handle(request: Recorded) -> Reply:
        return 200, {}, {"ok": True}

    loopback.handler = handle


async def test_email_is_html_escaped_and_headers_cannot_be_injected(smtp_server: Mailbox) -> None:
    url = (
        f"mailto://{smtp_server.host}:{smtp_server.port}"
        "?to=oncall@example.com&from=firebreak@example.com"
    )
    await AppriseNotifier([], [url]).notify(_message())
    assert len(smtp_server.messages) == 1
    envelope = smtp_server.messages[0]
    assert envelope.rcpt_tos == ["oncall@example.com"]
    mail = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert isinstance(mail, EmailMessage)
    assert "Bcc" not in mail and mail["Subject"].startswith("[critical] Prompt injection")
    part = mail.get_body(("html",))
    assert part is not None
    html_body = part.get_content()
    assert "<script>" not in html_body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html_body
    assert "inc-42" in html_body and "contain-key" in html_body
    assert "<code>firebreak approve inc-42 contain-key --reason &#x27;...&#x27;</code>" in html_body


async def test_routes_by_severity_and_environment(loopback: Loopback) -> None:
    _json_receiver(loopback)
    base = "json://" + loopback.url.removeprefix("http://")
    notifier = AppriseNotifier(
        [
            NotifyRoute(
                urls=[base + "/pager"],
                min_severity=Severity.critical,
                environments=[Environment.prod],
            ),
            NotifyRoute(urls=[base + "/chat"], min_severity=Severity.medium),
        ],
        [base + "/fallback"],
    )
    assert notifier.targets("critical", "prod") == [base + "/pager", base + "/chat"]
    assert notifier.targets("critical", "staging") == [base + "/chat"]
    assert notifier.targets("low", "prod") == [base + "/fallback"]
    await notifier.notify(_message(severity="high"))
    assert [r.path for r in loopback.requests] == ["/chat"]


async def test_escalations_reach_the_route_naming_their_target(loopback: Loopback) -> None:
    _json_receiver(loopback)
    base = "json://" + loopback.url.removeprefix("http://")
    notifier = AppriseNotifier(
        [
            NotifyRoute(urls=[base + "/lead"], recipients=["security-lead"]),
            NotifyRoute(urls=[base + "/chat"]),
        ]
    )
    assert notifier.targets("high", "prod") == [base + "/chat"], "a named route is not broadcast"
    assert notifier.targets("high", "prod", "security-lead") == [base + "/lead"]
    assert notifier.targets("high", "prod", "nobody-routes-this") == [base + "/chat"]
    await notifier.notify(_message(severity="high", recipient="security-lead"))
    assert [r.path for r in loopback.requests] == ["/lead"]


async def test_unreachable_target_is_retryable_and_hides_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = AppriseNotifier([], ["json://user:hunter2-secret@127.0.0.1:9/x?timeout=2"])
    with pytest.raises(ProviderError, match=r"1 of 1 targets failed: #1 \(json\)") as caught:
        await notifier.notify(_message())
    assert caught.value.retryable
    assert "hunter2-secret" not in str(caught.value) + caplog.text


async def test_invalid_url_asks_a_human() -> None:
    with pytest.raises(ProviderError, match=r"#1 .* not a valid apprise URL") as caught:
        await AppriseNotifier([], ["nosuchscheme://secret@host"]).notify(_message())
    assert not caught.value.retryable and "secret" not in str(caught.value)


def test_markdown_targets_get_escaped_text_and_a_safe_code_span() -> None:
    title, body = render(_message(action_hint="run `x` then ``y``"), apprise.NotifyFormat.MARKDOWN)
    assert escape_markdown("*now* [click](http://evil)") in body
    assert r"\<script\>" in body and "<script>" not in body
    assert body.endswith("To answer: ``` run `x` then ``y`` ```")
    assert title.startswith(r"\[critical\] Prompt injection")
