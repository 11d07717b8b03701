"""The subset of the Compose Specification that `deploy/docker-compose.yml` uses, as JSON Schema.

Written from https://github.com/compose-spec/compose-spec (schema/compose-spec.json): only the
keys Firebreak's file needs, with `additionalProperties: false` so a typo in a key fails the
test instead of being ignored by Compose at deploy time.
"""

from __future__ import annotations

from typing import Any

_STRING_LIST = {"type": "array", "items": {"type": "string"}}
_ENV_VALUE = {"type": ["string", "number", "boolean", "null"]}

SERVICE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
    "properties": {
        "image": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$"},
        "build": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["context"],
                    "properties": {"context": {"type": "string"}, "dockerfile": {"type": "string"}},
                },
            ]
        },
        "command": {"oneOf": [{"type": "string"}, _STRING_LIST]},
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
        "stop_grace_period": {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(us|ms|s|m|h))+$"},
        "environment": {
            "oneOf": [
                {"type": "object", "additionalProperties": _ENV_VALUE},
                {
                    "type": "array",
                    "items": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*="},
                },
            ]
        },
        "ports": {
            "type": "array",
            "items": {
                "type": "string",
                "pattern": r"^((\d{1,3}\.){3}\d{1,3}:)?(\d{1,5}:)?\d{1,5}(/(tcp|udp))?$",
            },
        },
        "volumes": {
            "type": "array",
            "items": {"type": "string", "pattern": r"^[^:]+:/[^:]*(:(ro|rw))?$"},
        },
        "depends_on": {
            "oneOf": [
                _STRING_LIST,
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["condition"],
                        "properties": {
                            "condition": {
                                "enum": [
                                    "service_started",
                                    "service_healthy",
                                    "service_completed_successfully",
                                ]
                            },
                            "restart": {"type": "boolean"},
                        },
                    },
                },
            ]
        },
        "healthcheck": {
            "type": "object",
            "additionalProperties": False,
            "required": ["test"],
            "properties": {
                "test": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 2,
                    "prefixItems": [{"enum": ["CMD", "CMD-SHELL"]}],
                },
                "interval": {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"},
                "timeout": {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"},
                "retries": {"type": "integer", "minimum": 1},
            },
        },
    },
}

COMPOSE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["services"],
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "name": {"type": "string"},
        "services": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9_-]*$"},
            "additionalProperties": SERVICE,
        },
        "volumes": {
            "type": "object",
            "additionalProperties": {"type": ["object", "null"]},
        },
    },
}
