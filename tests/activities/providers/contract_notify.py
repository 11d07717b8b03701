"""The Notifier contract: a message reaches responders once with every fact they act on, and
alert-derived text in it stays data (protocols.Notification: "notifiers escape it").

A concrete class builds the notifier in an autouse fixture (`self.provider`) and says what the
receiving end got: per message, its one-line summary (a log line, a mail subject, a chat title)
and the text a reader is shown, with markup already rendered.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from activities.providers.protocols import Notification, Notifier

FACTS = {
    "incident_id": "inc-42",
    "title": "Support bot key used from a new address",
    "body": "Requests from 203.0.113.77 since 12:00",
    "severity": "critical",
    "environment": "prod",
    "step_id": "contain-key",
    "action_hint": "firebreak approve inc-42 contain-key",
}
FORGED_HEADER = "Bcc: attacker@evil.example"
MARKUP = "<script>alert('x')</script> <b>now</b> [click](http://evil.example)"


@dataclass(frozen=True)
class Delivery:
    summary: str
    shown: str


class NotifierContract(ABC):
    provider: Notifier

    @abstractmethod
    async def delivered(self) -> list[Delivery]:
        """Every message the receiving end got, oldest first."""

    async def notify(self, **changes: str) -> Delivery:
        await self.provider.notify(Notification.model_validate({**FACTS, **changes}))
        (delivery,) = await self.delivered()
        return delivery

    async def test_a_message_reaches_responders_once_with_every_fact(self) -> None:
        delivery = await self.notify()
        missing = [name for name, value in FACTS.items() if value not in delivery.shown]
        assert missing == [], delivery.shown

    async def test_a_line_break_in_alert_text_cannot_start_a_new_line_or_header(self) -> None:
        delivery = await self.notify(title=f"Prompt injection\r\n{FORGED_HEADER}")
        assert "\n" not in delivery.summary and "\r" not in delivery.summary
        assert FORGED_HEADER in delivery.summary, "the text is kept, as data"

    async def test_markup_in_alert_text_is_shown_as_text(self) -> None:
        delivery = await self.notify(body=MARKUP)
        assert MARKUP in delivery.shown
