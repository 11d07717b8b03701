"""Loading routes and routing alerts with them.

`load_routes(settings)` reads the user routes file (`FIREBREAK_ROUTES_FILE`, else
`routes.yaml` in the playbooks directory, else none) and puts the built-in `defaults.yaml`
after it. Every problem is one `InvalidInput` line naming the file, the route and the field.
The table's `content_hash` (SHA-256 of its canonical JSON, as for playbooks) is recorded on
every alert it routed, with the id of the route that matched.

`RouteTable.route` tries the routes in order; the first whose every matcher holds wins
(Alertmanager's model). What it sets comes from it, and what it does not set (or takes `from`
fields the alert lacks) from the built-in `default` route, as a child route inherits from the
root in Alertmanager.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from orchestrator.alerts.formats.common import UNROUTED, digest, slug
from orchestrator.alerts.models import ParsedAlert
from orchestrator.domain import Alert, EntityRule, Environment, Resources, Severity
from orchestrator.errors import InvalidInput
from orchestrator.playbooks.loader import ROUTES_FILES
from orchestrator.routing.models import (
    RESOURCE_KINDS,
    Matcher,
    Route,
    RoutesFile,
    Source,
    Take,
)
from orchestrator.routing.patterns import compile_pattern
from orchestrator.settings import Settings

DEFAULT_ROUTE = "default"
BUILTIN = "builtin"
ROUTES_FILENAMES = sorted(ROUTES_FILES)  # routes.yaml before routes.yml
UNKNOWN_TYPE = UNROUTED
"""The type of an alert no route gives one: no playbook handles it, so it waits in triage."""
FALLBACK_SEVERITY = Severity.high
FALLBACK_ENVIRONMENT = Environment.prod
"""An alert that names no environment gets the strictest policies."""

NORMALISED = frozenset({"id", "source", "status", "title", "description", "fingerprint"})
SELECTOR = re.compile(r"([^\[\]]+)\[([^\[\]=]+)=([^\[\]]*)\]\.([^\[\]]+)")
"""`LIST[KEY=VALUE].FIELD`: a field of the first item of a list that has KEY = VALUE."""
W = TypeVar("W", Severity, Environment)
C = TypeVar("C")


@dataclass(frozen=True)
class Routed:
    """What routing made of one alert: the route that matched and the alert it became."""

    route: Route
    alert: Alert


@dataclass(frozen=True)
class RouteTable:
    """User routes then the built-in ones, with the words for severities and environments."""

    routes: tuple[Route, ...]
    origins: Mapping[str, str]
    severities: Mapping[str, Severity]
    environments: Mapping[str, Environment]
    content_hash: str
    user_file: Path | None = None
    _default: Route = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_default", self.routes[-1])

    def get(self, route_id: str) -> Route:
        for route in self.routes:
            if route.id == route_id:
                return route
        known = ", ".join(r.id for r in self.routes)
        raise InvalidInput(f"no route {route_id!r} (routes: {known})", "ID")

    def apply(self, fmt: str, parsed: list[ParsedAlert]) -> list[ParsedAlert]:
        """Each alert as its route makes it; a follow-up (`inherit_from`) takes its trigger's
        fields when it is recorded, so it is left as it is."""
        return [
            item if item.inherit_from is not None else item.with_alert(self.route(fmt, item).alert)
            for item in parsed
        ]

    def route(self, fmt: str, item: ParsedAlert) -> Routed:
        view = _View(fmt, item)
        route = next(r for r in self.routes if _holds(r.match, view))
        chain = (route, self._default) if route is not self._default else (route,)
        type_ = (
            self._first(chain, "type", view, lambda v, t, p: slug(_mapped(v, t))) or UNKNOWN_TYPE
        )
        severity = self._first(
            chain, "severity", view, lambda v, t, p: _word(v, t, self.severities, "severity", p)
        )
        environment = self._first(
            chain,
            "environment",
            view,
            lambda v, t, p: _word(v, t, self.environments, "environment", p),
        )
        found = {kind: _resource(chain, kind, view) for kind in RESOURCE_KINDS}
        names = next((r.fingerprint for r in chain if r.fingerprint), None)
        fingerprint = (
            digest(*(f"{n}={view.get(n) or ''}" for n in names))
            if names
            else item.alert.fingerprint
        )
        correlation = next((r for r in chain if r.correlation), None)
        alert = item.alert.model_copy(
            update={
                "correlation": _entity_rule(correlation),
                "type": type_,
                "severity": severity or FALLBACK_SEVERITY,
                "environment": environment or FALLBACK_ENVIRONMENT,
                "resources": Resources(**found),
                "fingerprint": fingerprint,
                "route": route.id,
                "route_hash": self.content_hash,
            }
        )
        return Routed(route, alert)

    def _first(
        self,
        chain: tuple[Route, ...],
        attribute: str,
        view: _View,
        convert: Callable[[str, Take, str], Any],
    ) -> Any:
        for route in chain:
            take: Take | None = getattr(route, attribute)
            if take is None:
                continue
            if take.value is not None:
                return convert(take.value, take, f"{attribute}.value")
            assert take.from_ is not None
            for source in take.from_:
                value = _read(source, view)
                if value is not None:
                    return convert(value, take, view.path(source.field))
            if take.default is not None:
                return convert(take.default, take, f"{attribute}.default")
        return None


class _View:
    """The fields of one alert as routes name them, and where each was in the delivery."""

    def __init__(self, fmt: str, item: ParsedAlert) -> None:
        self.fmt, self.item = fmt, item

    def get(self, name: str) -> str | None:
        selected = SELECTOR.fullmatch(name)
        if selected is not None:
            return self._selected(*selected.groups())
        alert = self.item.alert
        if name.startswith("labels."):
            value = alert.labels.get(name[len("labels.") :])
        elif name == "format":
            value = self.fmt
        elif name in NORMALISED:
            raw = getattr(alert, name)
            value = raw.value if name == "status" else raw
        else:
            value = self.item.fields.get(name)
        return value or None

    def _selected(self, items: str, key: str, wanted: str, rest: str) -> str | None:
        """`items[key=wanted].rest`: `rest` of the first list item whose `key` is `wanted`
        (Lakera's `breakdown[detected=true].detector_type`). Items are the indices that the
        flattened fields hold under `items.`, bounded like every raw field."""
        fields = self.item.fields
        prefix = f"{items}."
        indices = sorted(
            {
                int(head)
                for name in fields
                if name.startswith(prefix)
                and (head := name[len(prefix) :].partition(".")[0]).isdigit()
            }
        )
        for index in indices:
            if fields.get(f"{prefix}{index}.{key}") == wanted:
                return fields.get(f"{prefix}{index}.{rest}") or None
        return None

    def path(self, name: str) -> str:
        if name.startswith("labels."):
            return f"{self.item.labels_at}.{name[len('labels.') :]}"
        return f"{self.item.at}{name}"


def first_holding(
    candidates: Iterable[tuple[Mapping[str, Matcher], C]], fmt: str, item: ParsedAlert
) -> C | None:
    """The value paired with the first conditions that all hold for `item` as sent in `fmt`,
    judged as a route's `match` is (suppression windows use the same conditions, so they
    match the same fields); the alert's fields are looked up once for all of them."""
    view = _View(fmt, item)
    return next((value for conditions, value in candidates if _holds(conditions, view)), None)


def _holds(conditions: Mapping[str, Matcher], view: _View) -> bool:
    for name, matcher in conditions.items():
        value = view.get(name)
        if matcher.present is not None:
            if (value is not None) != matcher.present:
                return False
        elif matcher.equals is not None:
            if value != matcher.equals:
                return False
        elif value is None or not compile_pattern(matcher.regex).fullmatch(value):
            return False
    return True


def _read(source: Source, view: _View) -> str | None:
    value = view.get(source.field)
    if value is None or source.regex is None:
        return value
    pattern = compile_pattern(source.regex)
    found = pattern.fullmatch(value)
    if found is None:
        return None
    return (found.group(1) if pattern.groups else found.group(0)) or None


def _resource(chain: tuple[Route, ...], kind: str, view: _View) -> str | None:
    for route in chain:
        for source in route.resources.get(kind, ()):
            value = _read(source, view)
            if value is not None:
                return value
    return None


def _entity_rule(route: Route | None) -> EntityRule | None:
    if route is None or route.correlation is None:
        return None
    c = route.correlation
    return EntityRule(kinds=list(c.entities), window_seconds=c.window_seconds, rule=route.id)


def _mapped(value: str, take: Take) -> str:
    """`value` through the take's `map`: exact first, then ignoring case and spaces."""
    if value in take.map:
        return take.map[value]
    key = value.strip().lower()
    return next((v for k, v in take.map.items() if k.strip().lower() == key), value)


def _word(value: str, take: Take, words: Mapping[str, W], what: str, path: str) -> W:
    found = words.get(_mapped(value, take).strip().lower())
    if found is None:
        raise InvalidInput(f"{path}: unknown {what} {value[:40]!r}", path)
    return found


# --- loading ---------------------------------------------------------------------------------


def routes_file(settings: Settings) -> Path | None:
    """`FIREBREAK_ROUTES_FILE`, else `routes.yaml` in the playbooks directory if it is there."""
    if settings.routes_file is not None:
        return settings.routes_file
    if settings.playbooks_dir is not None:
        for name in ROUTES_FILENAMES:
            if (settings.playbooks_dir / name).is_file():
                return settings.playbooks_dir / name
    return None


def load_routes(settings: Settings) -> RouteTable:
    return load_table(routes_file(settings))


def load_table(user_file: Path | None) -> RouteTable:
    """The user routes of `user_file` (none if None), then the built-in routes."""
    builtin_file, builtin = _builtin()
    if user_file is None:
        return _table(builtin_file, builtin, RoutesFile(), [], None)
    try:
        text = user_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{user_file}: cannot read: {exc.strerror}", "routes_file") from None
    user_doc, user = parse_routes(text, str(user_file))
    where = str(user_file)
    for route in user:
        if route.id in {r.id for r in builtin}:
            raise InvalidInput(f"{where}: route {route.id}: id: {route.id!r} is a built-in route")
    _check(user, _words(builtin_file, user_doc), where)
    return _table(builtin_file, builtin, user_doc, user, user_file)


def parse_routes(text: str, source: str) -> tuple[RoutesFile, list[Route]]:
    """Validate one routes file; each problem is one InvalidInput naming `source`, the route
    and the field."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: not valid YAML: {exc}".splitlines()[0]) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source}: a routes file is a YAML mapping with a 'routes' list")
    parsed = _validated(RoutesFile, doc, f"{source}: ")
    routes: list[Route] = []
    seen: set[str] = set()
    for index, raw in enumerate(parsed.routes):
        label = raw.get("id") if isinstance(raw.get("id"), str) else f"#{index + 1}"
        route = _validated(Route, raw, f"{source}: route {label}: ")
        if route.id in seen:
            raise InvalidInput(f"{source}: route {route.id}: id: used by an earlier route", "id")
        seen.add(route.id)
        routes.append(route)
    for route in routes[:-1]:
        if not route.match:
            raise InvalidInput(
                f"{source}: route {route.id}: match: matches every alert, so the routes after"
                " it never match (put it last)",
                "match",
            )
    return parsed, routes


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], doc: Any, prefix: str) -> M:
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if p != "[key]")
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{prefix}{loc + ': ' if loc else ''}{msg}", field=loc or None) from None


def _words(
    builtin: RoutesFile, user: RoutesFile
) -> tuple[dict[str, Severity], dict[str, Environment]]:
    def lower(words: Mapping[str, W]) -> dict[str, W]:
        return {k.strip().lower(): v for k, v in words.items()}

    return (
        lower({**builtin.severities, **user.severities}),
        lower({**builtin.environments, **user.environments}),
    )


def _check(
    routes: list[Route],
    words: tuple[dict[str, Severity], dict[str, Environment]],
    where: str,
) -> None:
    """What pydantic cannot see alone: type values are slugs, severity and environment words
    are known (built-in or the file's own)."""
    severities, environments = words
    for route in routes:
        prefix = f"{where}: route {route.id}: "
        if route.type is not None:
            for name, value in _fixed(route.type):
                if not _is_slug(value):
                    raise InvalidInput(f"{prefix}type.{name}: {value!r} is not a type", "type")
        checks = (
            ("severity", severities, "severities", Severity),
            ("environment", environments, "environments", Environment),
        )
        for attribute, known, vocabulary, enum in checks:
            take: Take | None = getattr(route, attribute)
            for name, value in _fixed(take) if take is not None else []:
                if value.strip().lower() not in known:
                    choices = ", ".join(e.value for e in enum)
                    raise InvalidInput(
                        f"{prefix}{attribute}.{name}: {value!r} is not a known {attribute}"
                        f" ({choices}, or a word added under '{vocabulary}')",
                        attribute,
                    )


def _fixed(take: Take) -> list[tuple[str, str]]:
    """The Firebreak-side words a Take can produce: its value, default and map targets."""
    found = [("value", take.value), ("default", take.default)]
    found += [(f"map.{k}", v) for k, v in take.map.items()]
    return [(name, str(value)) for name, value in found if value is not None]


_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def _is_slug(value: str) -> bool:
    return _SLUG.match(value) is not None


def content_hash(doc: RoutesFile, routes: list[Route]) -> str:
    body = {
        "severities": {k: v.value for k, v in doc.severities.items()},
        "environments": {k: v.value for k, v in doc.environments.items()},
        "routes": [r.model_dump(mode="json", by_alias=True, exclude_defaults=True) for r in routes],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _table(
    builtin_doc: RoutesFile,
    builtin: list[Route],
    user_doc: RoutesFile,
    user: list[Route],
    user_file: Path | None,
) -> RouteTable:
    severities, environments = _words(builtin_doc, user_doc)
    merged = RoutesFile(severities=severities, environments=environments)
    routes = [*user, *builtin]
    origins = {r.id: str(user_file) for r in user} | {r.id: BUILTIN for r in builtin}
    return RouteTable(
        routes=tuple(routes),
        origins=origins,
        severities=severities,
        environments=environments,
        content_hash=content_hash(merged, routes),
        user_file=user_file,
    )


@cache
def _builtin() -> tuple[RoutesFile, list[Route]]:
    text = resources.files(__package__).joinpath("defaults.yaml").read_text(encoding="utf-8")
    doc, routes = parse_routes(text, "builtin/defaults.yaml")
    if not routes or routes[-1].id != DEFAULT_ROUTE or routes[-1].match:
        raise InvalidInput("builtin/defaults.yaml: the last route must be 'default', matching all")
    _check(routes, _words(doc, RoutesFile()), "builtin/defaults.yaml")
    return doc, routes
