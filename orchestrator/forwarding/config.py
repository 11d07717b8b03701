"""Sink URLs → `SinkConfig`, with one clear line for every mistake.

    syslog+tls://siem.example:6514?ca=/etc/firebreak/siem-ca.pem
    hec+https://splunk.example:8088?token_env=SPLUNK_HEC_TOKEN&index=security
    elasticsearch+https://es.example:9200/firebreak-audit?api_key_env=ES_API_KEY

Every sink also takes `format=jsonl|ocsf`, `sealed=keep|open` and `name=` (default: the URL
without its query, which is what the cursor, metrics and `/readyz` call it). Secrets are
never part of the URL, which is shown in logs and status: the URL names the environment
variable that holds each (`token_env`, `api_key_env`, `password_env`), read when the sink starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from orchestrator.errors import ConfigError
from orchestrator.forwarding.models import SinkConfig, SinkKind

COMMON = {"format", "sealed", "name"}
OPTIONS: dict[SinkKind, set[str]] = {
    "syslog": {"ca", "cert", "key", "facility", "app_name", "hostname"},
    "hec": {"token_env", "index", "source", "sourcetype", "ca", "path"},
    "elasticsearch": {"api_key_env", "username", "password_env", "ca"},
}
SCHEMES: dict[str, tuple[SinkKind, str, int]] = {
    "syslog+tls": ("syslog", "tls", 6514),
    "hec+https": ("hec", "https", 8088),
    "hec+http": ("hec", "http", 8088),
    "elasticsearch+https": ("elasticsearch", "https", 9200),
    "elasticsearch+http": ("elasticsearch", "http", 9200),
}
REQUIRED: dict[SinkKind, tuple[str, ...]] = {
    "syslog": (),
    "hec": ("token_env",),
    "elasticsearch": (),
}
SECRET_OPTIONS = {"token", "password", "api_key", "apikey"}


def parse_sink(url: str) -> SinkConfig:
    """One sink URL; `ConfigError` naming the URL (never a secret: none can be in it)."""
    split = urlsplit(url.strip())
    where = f"sink {split.scheme}://{split.hostname or ''}"
    if split.scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ConfigError(f"sink {url.split('?')[0]!r}: unknown scheme; use one of {known}")
    kind, scheme, default_port = SCHEMES[split.scheme]
    if split.username or split.password:
        raise ConfigError(
            f"{where}: credentials in the URL; name the environment variable holding them"
            " (token_env, api_key_env, username + password_env)"
        )
    if not split.hostname:
        raise ConfigError(f"{where}: no host")
    try:
        port = split.port or default_port
    except ValueError:
        raise ConfigError(f"{where}: the port is not a number from 1 to 65535") from None
    pairs = parse_qsl(split.query, keep_blank_values=True)
    options = dict(pairs)
    if len(options) != len(pairs):
        raise ConfigError(f"{where}: an option is given twice")
    for key in options:
        if key in SECRET_OPTIONS:
            raise ConfigError(
                f"{where}: option {key!r} would put a secret in the URL; put it in an"
                " environment variable and name that (token_env, api_key_env, password_env)"
            )
        if key not in COMMON | OPTIONS[kind]:
            allowed = ", ".join(sorted(COMMON | OPTIONS[kind]))
            raise ConfigError(f"{where}: unknown option {key!r}; {kind} takes {allowed}")
    for key in REQUIRED[kind]:
        if not options.get(key):
            raise ConfigError(f"{where}: option {key} is required")
    format_ = options.pop("format", "jsonl")
    if format_ not in ("jsonl", "ocsf"):
        raise ConfigError(f"{where}: format must be jsonl or ocsf, not {format_!r}")
    sealed = options.pop("sealed", "keep")
    if sealed not in ("keep", "open"):
        raise ConfigError(f"{where}: sealed must be keep or open, not {sealed!r}")
    path = split.path.rstrip("/")
    if kind == "elasticsearch":
        index = path.strip("/")
        if not index or "/" in index:
            raise ConfigError(f"{where}: name the index as the URL's path, e.g. /firebreak-audit")
    elif kind == "syslog" and path:
        raise ConfigError(f"{where}: a syslog URL has no path")
    if kind == "syslog" and "facility" in options:
        facility = options["facility"]
        if not facility.isdigit() or not 0 <= int(facility) <= 23:
            raise ConfigError(f"{where}: facility must be a number from 0 to 23")
    if ("cert" in options) != ("key" in options):
        raise ConfigError(f"{where}: cert and key go together (a client certificate)")
    if ("username" in options) != ("password_env" in options):
        raise ConfigError(f"{where}: username and password_env go together")
    default_name = f"{split.scheme}://{split.hostname}:{port}{path}"
    name = options.pop("name", "") or default_name
    if len(name) > 200:
        raise ConfigError(f"{where}: the name is longer than 200 characters")
    return SinkConfig(
        name=name,
        kind=kind,
        url=url.strip(),
        scheme=scheme,
        host=split.hostname,
        port=port,
        path=path,
        format=format_,
        sealed=sealed,
        options=options,
    )


def parse_sinks(urls: Iterable[str]) -> list[SinkConfig]:
    """Every sink of `urls`; two with the same name would share one cursor, so that is refused."""
    sinks = [parse_sink(url) for url in urls]
    names = [sink.name for sink in sinks]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"two sinks are named {name!r}; give one a name= option")
    return sinks


def secret(config: SinkConfig, option: str) -> str | None:
    """The value of the environment variable that `option` (say `token_env`) names; None when
    the option is not set. An unset or empty variable is a `ConfigError` naming the variable,
    never its value."""
    variable = config.options.get(option)
    if variable is None:
        return None
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(f"sink {config.name}: environment variable {variable} is not set")
    return value
