"""A command group that imports a sub-command's module only when that sub-command runs.

Each command module pulls in what its commands need (the audit store and SQLAlchemy, the
Temporal client, the API app, rich tables); importing all of them made every invocation pay
for every command, seconds on a slow machine, which a responder typing `firebreak decide`
during an incident waits through, and which the CLI's answer-within-seconds promises of
`approvals` and `decide` have to fit in. A group's own `--help` lists each command's help,
which lives with the command: it is read from the module's source (`source_help`) instead of
importing it, so `firebreak --help` is as quick as any verb.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import typer
import typer.core
import typer.main


@dataclass(frozen=True)
class Lazy:
    """Where a top-level command lives: `attribute` of `module`, a `typer.Typer` (a command
    group) or a command function. `setup` (``"module:function"``), if given, is called with
    it once after import: a group that another module adds commands to."""

    module: str
    attribute: str
    setup: str | None = None


class LazyGroup(typer.core.TyperGroup):
    """A group whose `lazy_commands` (a subclass names them) are built on first use."""

    lazy_commands: dict[str, Lazy] = {}
    _listing = False

    # `ctx` and the commands are click's types, which are typer's own copy of click in the
    # typer this is tested with and the click package in older ones: named `Any` here.
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_commands]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        where = self.lazy_commands.get(cmd_name)
        if where is None:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            text = source_help(where)
            if text is not None:
                # Listed, not run: a command with the help it will have when it is built.
                return typer.core.TyperCommand(name=cmd_name, help=text)
        return build(cmd_name, where)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


@cache
def build(name: str, where: Lazy) -> Any:
    """The click command `name` for `where`, imported and built once per process."""
    target = getattr(importlib.import_module(where.module), where.attribute)
    if where.setup is not None:
        module, function = where.setup.split(":")
        setup: Callable[[Any], None] = getattr(importlib.import_module(module), function)
        setup(target)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


@cache
def source_help(where: Lazy) -> str | None:
    """The help `build` gives `where`, read from its module's source without running it: the
    function's docstring, or the literal ``help=`` of the ``typer.Typer(…)`` assigned to the
    attribute. None when the source has neither (the group then imports the module); a test
    holds every command's source help to its built help."""
    tree = _source(where.module)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == where.attribute:
            return ast.get_docstring(node)
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == where.attribute for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            for keyword in node.value.keywords:
                if keyword.arg == "help" and isinstance(keyword.value, ast.Constant):
                    text = keyword.value.value
                    return text if isinstance(text, str) else None
    return None


@cache
def _source(module: str) -> ast.Module | None:
    """`module`'s parsed source, once per module (`audit` and `keys` share a file)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    with open(spec.origin, encoding="utf-8") as source:
        return ast.parse(source.read(), spec.origin)
