"""The schema of a routes file, validated by pydantic when the file is loaded.

A routes file is a mapping with `routes` (an ordered list of `Route`) and, optionally,
`severities` and `environments` (sender words added to the built-in vocabulary). Field names
are checked against the fields the formats expose (`FIELD_NAMES`, `FIELD_PREFIXES`), so a
route naming `alertname` instead of `labels.alertname` is refused at load time instead of
never matching. Regular expressions are compiled here, once.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from orchestrator.domain import Environment, Resources, Severity, Slug
from orchestrator.routing.patterns import compile_pattern

FIELD_NAMES = frozenset(
    {
        # every format
        "format",
        "source",
        "id",
        "status",
        "title",
        "description",
        "fingerprint",
        # generic
        "type",
        "severity",
        "environment",
        # alertmanager
        "generatorURL",
        "startsAt",
        "endsAt",
        "receiver",
        "groupKey",
        # pagerduty
        "event_action",
        "dedup_key",
    }
)
FIELD_PREFIXES = (
    "labels.",  # every format's labels (PagerDuty: custom_details; CloudEvents: data.labels)
    "annotations.",  # alertmanager
    "resources.",  # generic
    "detail.",  # generic: the detector's own answer
    "ce.",  # CloudEvents context attributes and extensions
    "data.",  # CloudEvents data
    "payload.",  # PagerDuty payload, payload.custom_details.*
    "attributes.",  # OTLP: the finding's attributes
    "span.",  # OTLP: the attributes of the finding's span, and span.name
    "resource.",  # OTLP: the resource's attributes
    "scope.",  # OTLP: scope.name
)
FORMATS = frozenset({"generic", "alertmanager", "cloudevents", "pagerduty", "otlp"})
RESOURCE_KINDS = tuple(Resources.model_fields)


def _field_name(name: str) -> str:
    if name in FIELD_NAMES:
        return name
    if any(name.startswith(p) and len(name) > len(p) for p in FIELD_PREFIXES):
        return name
    hint = f" (a label is labels.{name})" if "." not in name else ""
    raise ValueError(f"unknown field {name!r}{hint}; see docs/alert-formats.md#routing")


FieldName = Annotated[str, AfterValidator(_field_name)]


def _regex(pattern: str) -> str:
    compile_pattern(pattern)
    return pattern


Regex = Annotated[str, AfterValidator(_regex)]
"""A regular expression, refused at load time when it does not compile."""


def _as_text(value: Any) -> Any:
    """YAML reads `1` and `0.9` as numbers; a sender's words are text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_as_text)]
"""A word or value as written, numbers taken as their text (`P1`, `1`, `0.9`)."""


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def _as_source(value: Any) -> Any:
    return {"field": value} if isinstance(value, str) else value


class Source(BaseModel):
    """A field to read; with `regex`, only a value the whole expression matches counts, and
    its first group (else the whole match) is the value taken."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: FieldName
    regex: Regex | None = None


Sources = Annotated[
    list[Annotated[Source, BeforeValidator(_as_source)]],
    BeforeValidator(_as_list),
    Field(min_length=1),
]


class Take(BaseModel):
    """How a route sets type, severity or environment: a fixed `value`, or the first field of
    `from` that the alert carries, translated by `map` (sender word -> Firebreak word, on top
    of the built-in words), else `default`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    value: Text | None = None
    from_: Sources | None = Field(None, alias="from")
    map: dict[Text, Text] = Field(default_factory=dict)
    default: Text | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Take:
        if (self.value is None) == (self.from_ is None):
            raise ValueError("give exactly one of 'value' or 'from'")
        if self.value is not None and (self.map or self.default is not None):
            raise ValueError("'map' and 'default' go with 'from', not with 'value'")
        return self


def _as_take(value: Any) -> Any:
    return {"value": value} if isinstance(value, str | int | float) else value


Setter = Annotated[Take, BeforeValidator(_as_take)]


class Matcher(BaseModel):
    """One condition on a field: `equals`, `regex` (the whole value must match, as in
    Alertmanager) or `present`. A bare value in YAML means `equals`. An empty value is absent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    equals: Text | None = None
    regex: Regex | None = None
    present: bool | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> Matcher:
        given = [v for v in (self.equals, self.regex, self.present) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'equals', 'regex' or 'present'")
        return self


def _as_matcher(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(
            "a bare true/false is ambiguous: write {present: true} or {equals: 'true'}"
        )
    return {"equals": str(value)} if isinstance(value, str | int | float) else value


def _known_format(match: dict[str, Matcher]) -> dict[str, Matcher]:
    fmt = match.get("format")
    if fmt is not None and fmt.equals is not None and fmt.equals not in FORMATS:
        raise ValueError(f"format {fmt.equals!r} is not one of {', '.join(sorted(FORMATS))}")
    return match


Conditions = Annotated[
    dict[FieldName, Annotated[Matcher, BeforeValidator(_as_matcher)]],
    AfterValidator(_known_format),
]
"""Field name -> matcher, every one of which must hold: a route's `match`, a suppression
window's `match` (`orchestrator/suppression/`)."""


def describe_conditions(conditions: Conditions) -> str:
    """Conditions in their one-line form (`labels.job=api,labels.pod=~api-.*,!labels.team`):
    what `firebreak routes list` and `firebreak suppress list` print, and what
    `parse_condition` reads back."""
    if not conditions:
        return "*"
    parts = []
    for name, m in conditions.items():
        if m.present is not None:
            parts.append(name if m.present else f"!{name}")
        else:
            parts.append(f"{name}={m.equals}" if m.equals is not None else f"{name}=~{m.regex}")
    return ",".join(parts)


def parse_condition(text: str) -> tuple[str, dict[str, Any]]:
    """One condition in its one-line form: `FIELD=VALUE` (equals), `FIELD=~REGEX` (the whole
    value matches), `FIELD` (present) or `!FIELD` (absent); the field name is checked when
    the conditions are validated."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep:
        if name.startswith("!"):
            return name[1:].strip(), {"present": False}
        return name, {"present": True}
    if value.startswith("~"):
        return name, {"regex": value[1:]}
    return name, {"equals": value}


ENTITY_KINDS = ("api_key", "model", "dataset", "agent", "tool")
"""The resources that name an entity an incident can be about (versions do not)."""
MAX_WINDOW_SECONDS = 7 * 24 * 3600
"""No correlation window lasts forever: a week at most."""


class Correlation(BaseModel):
    """Entity correlation (Netflix Dispatch's duplication rules): an alert of this route that
    names one of `entities` (same environment) while an incident for it is open and its last
    alert is less than `window_seconds` old joins that incident. Entities are tried in the
    order written; the first one already claimed decides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: Annotated[list[str], Field(min_length=1)]
    window_seconds: int = Field(ge=1, le=MAX_WINDOW_SECONDS)

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, entities: list[str]) -> list[str]:
        for kind in entities:
            if kind not in ENTITY_KINDS:
                raise ValueError(f"unknown entity {kind!r} (one of {', '.join(ENTITY_KINDS)})")
        if len(set(entities)) != len(entities):
            raise ValueError("an entity is named twice")
        return entities


class Route(BaseModel):
    """Where alerts that match every condition of `match` go. What a route does not set (or
    sets `from` fields the alert lacks) comes from the built-in `default` route."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    description: str = ""
    match: Conditions = Field(default_factory=dict)
    type: Setter | None = None
    severity: Setter | None = None
    environment: Setter | None = None
    resources: dict[str, Sources] = Field(default_factory=dict)
    fingerprint: Annotated[list[FieldName], Field(min_length=1)] | None = Field(
        None, description="Fields whose values identify the condition; default: the sender's."
    )
    correlation: Correlation | None = None

    @field_validator("resources")
    @classmethod
    def _known_kinds(cls, resources: dict[str, list[Source]]) -> dict[str, list[Source]]:
        for kind in resources:
            if kind not in RESOURCE_KINDS:
                raise ValueError(f"unknown resource {kind!r} (one of {', '.join(RESOURCE_KINDS)})")
        return resources


class RoutesFile(BaseModel):
    """A routes file as written: words added to the vocabulary, then routes in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severities: dict[Text, Severity] = Field(default_factory=dict)
    environments: dict[Text, Environment] = Field(default_factory=dict)
    routes: list[dict[str, Any]] = Field(default_factory=list)
