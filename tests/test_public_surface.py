"""Each package's public surface is the names in its `__all__`, pinned here (httpx's habit):
a name added to or dropped from a surface is a deliberate change of this file, and nothing a
module defines is public by accident."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest

PINS = Path(__file__).with_name("public_surfaces.txt")


def pinned() -> dict[str, list[str]]:
    """`module: Name Name …` per line of `public_surfaces.txt` (comments start with #)."""
    surfaces = {}
    for line in PINS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            module, _, names = line.partition(":")
            surfaces[module.strip()] = names.split()
    return surfaces


SURFACES = pinned()


def defined_here(module: ModuleType) -> set[str]:
    """Public names whose values come from this module (or, for a package, from inside it);
    what it merely imports from elsewhere is not its surface."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        origin = getattr(value, "__module__", None)
        if not isinstance(origin, str) or origin.startswith(module.__name__):
            names.add(name)
    return names


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_the_surface_is_pinned(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(SURFACES[name])
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.{exported} is exported but missing"


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_nothing_is_public_by_accident(name: str) -> None:
    module = importlib.import_module(name)
    assert defined_here(module) <= set(module.__all__)
