"""Validate a record against the OCSF schema compiled by `compile_schema.py` (ocsf-1.5.0.json).

Checks what the OCSF schema server's validator checks for the parts Firebreak emits: the class
named by `class_uid` exists and its category and `type_uid` agree; every required attribute is
there (a profile's only when the record applies the profile); every `at_least_one` constraint
holds; no attribute is unknown to the class or object; each value has its attribute's type
(objects recursively, arrays element by element); enum attributes hold one of their values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA = json.loads(Path(__file__).with_name("ocsf-1.5.0.json").read_text())
CLASSES = {entry["class_uid"]: entry for entry in SCHEMA["classes"].values()}
SCALARS: dict[str, tuple[type, ...]] = {
    "string_t": (str,),
    "integer_t": (int,),
    "long_t": (int,),
    "float_t": (int, float),
    "boolean_t": (bool,),
}


def errors(record: dict[str, Any]) -> list[str]:
    """Every way `record` breaks the schema; empty when it is a valid OCSF record."""
    found: list[str] = []
    definition = CLASSES.get(record.get("class_uid"))  # type: ignore[arg-type]
    if definition is None:
        return [f"class_uid {record.get('class_uid')!r} is not a class of the schema"]
    if record.get("category_uid") != definition["category_uid"]:
        found.append(f"category_uid {record.get('category_uid')} != {definition['category_uid']}")
    if record.get("type_uid") != record["class_uid"] * 100 + record.get("activity_id", -1):
        found.append(f"type_uid {record.get('type_uid')} is not class_uid * 100 + activity_id")
    if record.get("metadata", {}).get("version") != SCHEMA["version"]:
        found.append(f"metadata.version is not {SCHEMA['version']}")
    profiles = set(record.get("metadata", {}).get("profiles") or [])
    _check(record, definition, profiles, "", found)
    return found


def _check(
    value: dict[str, Any],
    definition: dict[str, Any],
    profiles: set[str],
    where: str,
    out: list[str],
) -> None:
    attributes = definition["attributes"]
    for name, attribute in attributes.items():
        applies = not attribute.get("profile") or attribute["profile"] in profiles
        if attribute["requirement"] == "required" and applies and name not in value:
            out.append(f"{where}{name}: required")
    group = definition["constraints"].get("at_least_one")
    if group and not any(name in value for name in group):
        out.append(f"{where or 'record'}: needs at least one of {group}")
    for name, item in value.items():
        attribute = attributes.get(name)
        if attribute is None:
            out.append(f"{where}{name}: not an attribute here")
            continue
        items = item if attribute["is_array"] else [item]
        if attribute["is_array"] and not isinstance(item, list):
            out.append(f"{where}{name}: must be an array")
            continue
        for element in items:
            _value(element, attribute, profiles, f"{where}{name}", out)


def _value(
    value: Any, attribute: dict[str, Any], profiles: set[str], where: str, out: list[str]
) -> None:
    kind = attribute["type"]
    while kind in SCHEMA["types"] and SCHEMA["types"][kind] != kind:
        kind = SCHEMA["types"][kind]  # timestamp_t -> long_t, uuid_t -> string_t, ...
    if kind == "json_t":
        return
    if kind == "object":
        if not isinstance(value, dict):
            out.append(f"{where}: must be an object")
        return
    if kind in SCALARS:
        if not isinstance(value, SCALARS[kind]) or (
            kind != "boolean_t" and isinstance(value, bool)
        ):
            out.append(f"{where}: {value!r} is not {attribute['type']}")
        elif "enum" in attribute and value not in attribute["enum"]:
            out.append(f"{where}: {value!r} is not one of {attribute['enum']}")
        return
    definition = SCHEMA["objects"].get(kind)
    if definition is None:
        out.append(f"{where}: object {kind!r} is not in the compiled schema (compile_schema.py)")
    elif not isinstance(value, dict):
        out.append(f"{where}: must be a {kind} object")
    else:
        _check(value, definition, profiles, f"{where}.", out)
