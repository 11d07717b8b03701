"""The Notifier contract against the log notifier and the apprise notifier delivering by mail
to a real SMTP server (aiosmtpd) and as JSON to a loopback receiver."""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from activities.providers.apprise_notify import AppriseNotifier
from activities.providers.local.notify import LogNotifier
from tests.activities.providers.contract_notify import Delivery, NotifierContract
from tests.support.providers import Loopback, Mailbox

LOGGER = "firebreak.notify"


class TestLogNotifier(NotifierContract):
    @pytest.fixture(autouse=True)
    def system(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger=LOGGER)
        self.caplog, self.provider = caplog, LogNotifier()

    async def delivered(self) -> list[Delivery]:
        lines = [r.getMessage() for r in self.caplog.records if r.name == LOGGER]
        return [Delivery(summary=line, shown=line) for line in lines]


class TestAppriseJson(NotifierContract):
    @pytest.fixture(autouse=True)
    def system(self, loopback: Loopback) -> None:
        loopback.handler = lambda request: (200, {}, {"ok": True})
        self.loopback = loopback
        self.provider = AppriseNotifier([], ["json://" + loopback.url.removeprefix("http://")])

    async def delivered(self) -> list[Delivery]:
        payloads = [request.json() for request in self.loopback.requests]
        return [Delivery(p["title"], p["title"] + "\n" + p["message"]) for p in payloads]


class _Rendered(HTMLParser):
    """The text an HTML mail shows: character data with entities resolved, tags dropped."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


class TestAppriseMail(NotifierContract):
    @pytest.fixture(autouse=True)
    def system(self, smtp_server: Mailbox) -> None:
        self.mailbox = smtp_server
        url = f"mailto://{smtp_server.host}:{smtp_server.port}?to=oncall@example.com"
        self.provider = AppriseNotifier([], [url + "&from=firebreak@example.com"])

    async def delivered(self) -> list[Delivery]:
        deliveries = []
        for envelope in self.mailbox.messages:
            mail = message_from_bytes(envelope.original_content or b"", policy=policy.default)
            assert isinstance(mail, EmailMessage)
            part = mail.get_body(("html",))
            assert part is not None
            shown = "".join(_Rendered(part.get_content()).text)
            deliveries.append(Delivery(str(mail["Subject"]), str(mail["Subject"]) + "\n" + shown))
        return deliveries
