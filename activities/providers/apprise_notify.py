"""Notifier over apprise URLs, routed by severity and environment.

Alert text is attacker-controlled, so each message is rendered for the format its target
renders natively (HTML for email, Markdown for chat services, plain text otherwise) with the
alert text escaped for that format, and control characters removed so a title cannot inject
mail headers. apprise URLs carry credentials: errors name a target by position and scheme only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import apprise

from activities.providers.http_support import permanent, retryable
from orchestrator.domain import Severity
from orchestrator.settings import NotifyRoute
from workflows.contracts import Notification

_ORDER = list(Severity)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=])")


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text)


def _one_line(text: str) -> str:
    return " ".join(_clean(text).split())


def escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _clean(text))


def _code_span(text: str) -> str:
    """Markdown inline code that no backtick run inside `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {_one_line(text)} {fence}"


def _facts(message: Notification) -> list[tuple[str, str]]:
    facts = [
        ("Incident", message.incident_id),
        ("Severity", message.severity),
        ("Environment", message.environment),
    ]
    return facts + ([("Step", message.step_id)] if message.step_id else [])


def render(message: Notification, fmt: str) -> tuple[str, str]:
    """(title, body) for a target whose native format is `fmt`."""
    title = _one_line(f"[{message.severity}] {message.title}")
    hint = message.action_hint
    if fmt == apprise.NotifyFormat.HTML:
        rows = "".join(
            f"<li><b>{name}:</b> {html.escape(_one_line(value))}</li>"
            for name, value in _facts(message)
        )
        body = f"<ul>{rows}</ul><pre>{html.escape(_clean(message.body))}</pre>"
        if hint:
            answer = html.escape(_one_line(hint))
            is_url = hint.startswith(("https://", "http://"))
            shown = f'<a href="{answer}">{answer}</a>' if is_url else f"<code>{answer}</code>"
            body += f"<p>To answer: {shown}</p>"
        return title, body
    if fmt == apprise.NotifyFormat.MARKDOWN:
        lines = [
            f"**{name}:** {escape_markdown(_one_line(value))}" for name, value in _facts(message)
        ]
        body = "  \n".join(lines) + "\n\n" + escape_markdown(message.body)
        if hint:
            body += f"\n\nTo answer: {_code_span(hint)}"
        return escape_markdown(title), body
    lines = [f"{name}: {_one_line(value)}" for name, value in _facts(message)]
    body = "\n".join(lines) + "\n\n" + _clean(message.body)
    if hint:
        body += f"\n\nTo answer: {_one_line(hint)}"
    return title, body


class AppriseNotifier:
    """The `Notifier` protocol: every route matching the message, else the default URLs."""

    def __init__(self, routes: Sequence[NotifyRoute], default_urls: Sequence[str] = ()) -> None:
        self._routes = list(routes)
        self._default = list(default_urls)

    def targets(self, severity: str, environment: str, recipient: str | None = None) -> list[str]:
        rank = _ORDER.index(Severity(severity)) if severity in _ORDER else len(_ORDER) - 1
        named = [r for r in self._routes if recipient is not None and recipient in r.recipients]
        routes = named or [r for r in self._routes if not r.recipients]
        matched: list[str] = []
        for route in routes:
            if rank < _ORDER.index(route.min_severity):
                continue
            if route.environments and environment not in route.environments:
                continue
            matched.extend(url for url in route.urls if url not in matched)
        return matched or self._default

    async def notify(self, message: Notification) -> None:
        urls = self.targets(message.severity, message.environment, message.recipient)
        failed: list[str] = []
        for index, url in enumerate(urls, start=1):
            scheme = url.split(":", 1)[0]
            plugin = apprise.Apprise.instantiate(url)
            if plugin is None:
                raise permanent(f"notify: target #{index} ({scheme}) is not a valid apprise URL")
            formats = plugin.notify_format
            fmt = formats[0] if isinstance(formats, tuple | list) else formats
            title, body = render(message, fmt)
            if not await plugin.async_notify(body=body, title=title, body_format=fmt):
                failed.append(f"#{index} ({scheme})")
        if failed:
            raise retryable(
                f"notify: {len(failed)} of {len(urls)} targets failed: {', '.join(failed)}"
            )
