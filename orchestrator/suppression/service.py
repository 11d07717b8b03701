"""Creating, ending and reading suppression windows, and recording the alerts they hold.

Rules, checked here so the API, the CLI (through the API) and the console share them:
- a window needs at least one condition, a reason and an expiry later than its start and than
  now, at most `MAX_LIFETIME` from now; a start more than `START_SKEW` in the past is refused
  (it would claim to have held alerts before it existed);
- a caller creates and ends windows only within its environment scope (every environment of
  the window must be in it), and sees those that share at least one environment with it;
  one outside it looks absent (404), as an incident does;
- creating and ending are audited (`SuppressionCreated`, `SuppressionEnded` on the window's
  stream `suppression-<id>`, with the caller as actor), and bump `suppression_state.version`
  in the same transaction as the row, so every replica's cache sees the change (`cache.py`).

An alert a window holds is recorded as `AlertSuppressed` on a stream of its own
(`alerts.ids.suppressed_stream`), sealed like `AlertReceived`, and goes to no incident.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import anyio
import sqlalchemy as sa

from orchestrator.alerts.ids import alert_key, suppressed_event_id, suppressed_stream
from orchestrator.alerts.models import Delivery, Known
from orchestrator.alerts.service import alert_payload
from orchestrator.audit import EventStore, StreamAppend
from orchestrator.db import run_on
from orchestrator.domain import Actor, Alert, Environment, EventType, NewEvent
from orchestrator.errors import ConcurrencyError, Conflict, Forbidden, InvalidInput, NotFound
from orchestrator.principals.models import Principal
from orchestrator.suppression.cache import ActiveWindows
from orchestrator.suppression.models import (
    MAX_LIFETIME,
    START_SKEW,
    Window,
    WindowRequest,
    WindowState,
    WindowView,
    state,
    windows,
)

T = TypeVar("T")
LISTED = 200
"""At most this many windows in a listing of past ones, newest first."""

BUMP = state.update().where(state.c.id == 1).values(version=state.c.version + 1)


def window_stream(window_id: str) -> str:
    return f"suppression-{window_id}"


def create_window(
    engine: sa.Engine, request: WindowRequest, principal: Principal, now: datetime
) -> Window:
    """Store a window for `principal` (its scope by default) and record `SuppressionCreated`."""
    environments = sorted(set(request.environments) or principal.environments)
    outside = [e.value for e in environments if e not in principal.environments]
    if outside:
        raise Forbidden(f"principal is not scoped to the {', '.join(outside)} environment")
    start, expiry = request.span(now)
    if start < now - START_SKEW:
        raise InvalidInput(
            f"starts_at {start.isoformat()} is in the past; leave it out to start now",
            "starts_at",
        )
    if expiry <= max(start, now):
        raise InvalidInput(
            f"the window would expire at {expiry.isoformat()}, before it holds anything",
            "expires_at",
        )
    if expiry > now + MAX_LIFETIME:
        raise InvalidInput(
            f"the window would expire at {expiry.isoformat()}, more than {MAX_LIFETIME.days} "
            "days from now; create a new one when this one ends",
            "expires_at",
        )
    window = Window(
        id=uuid.uuid4().hex,
        match=request.match,
        environments=environments,
        reason=request.reason,
        created_by=principal.name,
        created_at=now,
        starts_at=start,
        expires_at=expiry,
    )
    row = window.model_dump(mode="json", exclude_none=True) | {
        "created_at": now,
        "starts_at": start,
        "expires_at": expiry,
    }

    def work(conn: sa.Connection) -> None:
        conn.execute(windows.insert().values(**row))
        conn.execute(BUMP)

    _run(engine, work, write=True)
    _record(
        engine,
        EventType.suppression_created,
        window,
        principal,
        now,
        match=window.model_dump(mode="json")["match"],
        reason=window.reason,
        starts_at=start.isoformat(),
        expires_at=expiry.isoformat(),
    )
    return window


def end_window(
    engine: sa.Engine, window_id: str, principal: Principal, reason: str, now: datetime
) -> Window:
    """End a window early and record `SuppressionEnded`; 409 if it already ended or expired."""
    window = get_window(engine, window_id, principal.environments)
    outside = [e.value for e in window.environments if e not in principal.environments]
    if outside:
        raise Forbidden(f"principal is not scoped to the {', '.join(outside)} environment")
    current = window.state_at(now)
    if current in (WindowState.ended, WindowState.expired):
        when = window.ended_at if current is WindowState.ended else window.expires_at
        assert when is not None
        raise Conflict(f"window {window_id} already {current.value} at {when.isoformat()}")
    values = {"ended_at": now, "ended_by": principal.name, "end_reason": reason.strip() or None}

    def work(conn: sa.Connection) -> int:
        ended = conn.execute(
            windows.update()
            .where(windows.c.id == window_id, windows.c.ended_at.is_(None))
            .values(**values)
        )
        conn.execute(BUMP)
        return ended.rowcount

    if _run(engine, work, write=True) != 1:
        raise Conflict(f"window {window_id} was ended by someone else meanwhile")
    ended = window.model_copy(update=values)
    _record(
        engine,
        EventType.suppression_ended,
        ended,
        principal,
        now,
        reason=ended.end_reason or "",
        expires_at=window.expires_at.isoformat(),
    )
    return ended


def get_window(engine: sa.Engine, window_id: str, visible: Iterable[Environment]) -> Window:
    row = _run(
        engine,
        lambda conn: conn.execute(windows.select().where(windows.c.id == window_id)).first(),
    )
    window = Window.from_row(row) if row is not None else None
    if window is None or not set(window.environments) & set(visible):
        raise NotFound(f"no suppression window {window_id!r}")
    return window


def list_windows(
    engine: sa.Engine, visible: Iterable[Environment], now: datetime, *, past: bool = False
) -> list[WindowView]:
    """Windows that share an environment with `visible`: those active or scheduled (soonest
    to expire first), or with `past` also the ended and expired ones (newest first)."""
    query = windows.select()
    if past:
        query = query.order_by(windows.c.created_at.desc()).limit(LISTED)
    else:
        query = query.where(windows.c.ended_at.is_(None), windows.c.expires_at > now).order_by(
            windows.c.expires_at
        )
    rows = _run(engine, lambda conn: conn.execute(query).all())
    scope = set(visible)
    found = [Window.from_row(row) for row in rows]
    return [view(w, now) for w in found if set(w.environments) & scope]


def view(window: Window, now: datetime) -> WindowView:
    return WindowView(**window.model_dump(), state=window.state_at(now))


async def hold(
    active: ActiveWindows, store: EventStore, delivery: Delivery, known: Known
) -> dict[str, str]:
    """The alerts of `delivery` that an active window holds, recorded as `AlertSuppressed`:
    alert id -> window id. Alerts already handed to an incident are not held (their retry
    answers that incident)."""
    if not await active.any():  # the common case: nothing to look at
        return {}
    source = delivery.principal.name
    pairs = [
        (item.with_alert(alert), alert)
        for item, alert in zip(delivery.alerts, known.alerts, strict=True)
        if alert_key(source, alert.id) not in known.incidents
    ]
    if not pairs:
        return {}
    found = await active.matching(delivery.format, [item for item, _ in pairs])
    held = [(alert, window) for (_, alert), window in zip(pairs, found, strict=True) if window]
    if held:
        await anyio.to_thread.run_sync(record_suppressed, store, delivery, held)
    return {alert.id: window.id for alert, window in held}


def record_suppressed(
    store: EventStore, delivery: Delivery, held: Sequence[tuple[Alert, Window]]
) -> None:
    """One `AlertSuppressed` per held alert, in one transaction; a retried alert finds its
    first record (the stream exists) and is not recorded twice."""
    appends = [
        StreamAppend(
            suppressed_stream(delivery.principal.name, alert.id),
            [_suppressed_event(delivery, alert, window)],
            expected_version=0,
        )
        for alert, window in held
    ]
    for outcome in store.append_many(appends):
        if isinstance(outcome, Conflict | ConcurrencyError):
            continue  # recorded by an earlier try of the same alert
        if isinstance(outcome, Exception):
            raise outcome


def _suppressed_event(delivery: Delivery, alert: Alert, window: Window) -> NewEvent:
    return NewEvent(
        id=suppressed_event_id(delivery.principal.name, alert.id),
        type=EventType.alert_suppressed.value,
        actor=Actor(id=delivery.principal.id, role=delivery.principal.role.value),
        occurred_at=alert.received_at,
        payload=alert_payload(delivery, alert) | {"window_id": window.id},
        sensitive=("alert",),
    )


def _record(
    engine: sa.Engine,
    kind: EventType,
    window: Window,
    principal: Principal,
    at: datetime,
    **details: Any,
) -> None:
    event = NewEvent(
        id=str(uuid.uuid4()),
        type=kind.value,
        actor=Actor(id=principal.id, role=principal.role.value),
        occurred_at=at,
        payload={
            "window_id": window.id,
            "environments": [e.value for e in window.environments],
            "principal": principal.name,
            **details,
        },
    )
    EventStore(engine).append(window_stream(window.id), [event])


def _run(engine: sa.Engine, work: Callable[[sa.Connection], T], write: bool = False) -> T:
    return run_on(engine, work, "suppression windows", write=write)
