"""Compile the part of the OCSF schema Firebreak's records use into tests/ocsf/ocsf-1.5.0.json.

The OCSF schema repository (github.com/ocsf/ocsf-schema) keeps classes and objects as partial
definitions: a class `extends` its parent, `$include`s profiles, and names attributes whose type
and enum live in `dictionary.json`. This resolves those the way the OCSF schema server does
(parent first, then profiles, then the class's own entries; an enum is the dictionary's with the
class's values over it) for the three classes the mapper emits and the objects inside them, so
the tests validate against the schema itself with no download. Regenerate after changing the
OCSF version or emitting another object:

    git clone https://github.com/ocsf/ocsf-schema && git -C ocsf-schema checkout 1.5.0
    python tests/ocsf/compile_schema.py ocsf-schema 1.5.0 > tests/ocsf/ocsf-1.5.0.json

The version is the tag's name: `version.json` at a release tag already names the next
development version (1.6.0-dev at 1.5.0).

Attributes a profile adds are marked with the profile's name: they are required only in a record
that applies the profile (`metadata.profiles`). A class's own entry with `"profile": null` makes
the attribute the class's own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CLASSES = ("detection_finding", "incident_finding", "api_activity")
OBJECTS = (
    "metadata",
    "product",
    "finding_info",
    "group",
    "actor",
    "user",
    "api",
    "service",
    "network_endpoint",
    "resource_details",
)


def main(root: Path, version: str) -> dict[str, Any]:
    dictionary = json.loads((root / "dictionary.json").read_text())
    categories = json.loads((root / "categories.json").read_text())["attributes"]
    files = {p.stem: p for p in (root / "events").rglob("*.json")}
    object_files = {p.stem: p for p in (root / "objects").glob("*.json")}
    types = {
        name: entry.get("type", name) for name, entry in dictionary["types"]["attributes"].items()
    }

    def resolve(name: str, table: dict[str, Path]) -> dict[str, Any]:
        item = json.loads(table[name].read_text())
        attributes: dict[str, dict[str, Any]] = {}
        constraints: dict[str, Any] = {}
        category = item.get("category")
        if item.get("extends"):
            parent = resolve(item["extends"], table)
            attributes, constraints = parent["attributes"], parent["constraints"]
            category = category or parent["category"]
        own = dict(item.get("attributes", {}))
        for include in own.pop("$include", []):
            profile = json.loads((root / include).read_text())
            merge(
                attributes,
                {k: {**v, "profile": profile["name"]} for k, v in profile["attributes"].items()},
            )
        merge(attributes, own)
        return {
            "uid": item.get("uid"),
            "category": category,
            "attributes": attributes,
            "constraints": item.get("constraints") or constraints,
        }

    def compiled(resolved: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        for name, entry in resolved["attributes"].items():
            base = dictionary["attributes"][name]
            enum = {**base.get("enum", {}), **entry.get("enum", {})}
            attributes[name] = {
                "type": base["type"],
                "is_array": bool(base.get("is_array")),
                "requirement": entry.get("requirement") or base.get("requirement") or "optional",
                **({"profile": entry["profile"]} if entry.get("profile") else {}),
                **({"enum": sorted(int(k) for k in enum)} if enum else {}),
            }
        return {"attributes": attributes, "constraints": resolved["constraints"]}

    classes = {}
    for name in CLASSES:
        resolved = resolve(name, files)
        category_uid = categories[resolved["category"]]["uid"]
        class_uid = category_uid * 1000 + resolved["uid"]
        classes[name] = {"class_uid": class_uid, "category_uid": category_uid, **compiled(resolved)}
        # The dictionary lists only 0 (Uncategorized); the server fills in the class's own.
        classes[name]["attributes"]["class_uid"]["enum"] = [class_uid]
        classes[name]["attributes"]["category_uid"]["enum"] = [category_uid]
    objects = {name: compiled(resolve(name, object_files)) for name in OBJECTS}
    return {"version": version, "classes": classes, "objects": objects, "types": types}


def merge(into: dict[str, dict[str, Any]], entries: dict[str, dict[str, Any]]) -> None:
    """A later definition of an attribute refines the earlier one, key by key."""
    for name, entry in entries.items():
        refined = {k: v for k, v in entry.items() if v is not None or k == "profile"}
        into[name] = {**into.get(name, {}), **refined}


if __name__ == "__main__":
    json.dump(main(Path(sys.argv[1]), sys.argv[2]), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
