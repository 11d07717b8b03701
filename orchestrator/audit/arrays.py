"""`audit_append`'s array parameters, written in PostgreSQL's binary array format directly.

psycopg adapts a Python list by inspecting it on every call: it scans the items for their
type, builds a dumper for the element type, measures the dimensions, then dumps each item
through that dumper. For the thirteen arrays of one append that was most of the client's time
of a single-event append and a tenth of it at batches of 100 (docs/benchmarks.md, "Audit
store"). The types here are known, so each array is written in one pass: ``array_send``'s
layout (dimensions, null flag, element type, then each element's length and bytes; a null
is length -1), for the three element types the function takes.

Wrap a list in `TextArray`, `IntArray` or `TimestampArray` and pass it as a binary (``%b``)
parameter on a connection that went through `register`.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from psycopg import Connection
from psycopg.adapt import Dumper
from psycopg.postgres import types
from psycopg.pq import Format

_HEADER = struct.Struct(">iiiii")  # one dimension: ndim, has nulls, element oid, length, lbound
_EMPTY = struct.Struct(">iii")  # no dimension: ndim 0, no nulls, element oid
_LENGTH = struct.Struct(">i")
_NULL = _LENGTH.pack(-1)
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _Array:
    """A list of one element type, to be sent as a one-dimensional array."""

    __slots__ = ("items",)

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = items


class TextArray(_Array):
    """``text[]``: strings or None."""

    __slots__ = ()


class IntArray(_Array):
    """``integer[]``: ints that fit 32 bits, or None."""

    __slots__ = ()


class TimestampArray(_Array):
    """``timestamptz[]``: timezone-aware datetimes, or None."""

    __slots__ = ()


def _frame(element_oid: int, count: int, nulls: bool, body: list[bytes]) -> bytes:
    if not count:
        return _EMPTY.pack(0, 0, element_oid)
    return _HEADER.pack(1, int(nulls), element_oid, count, 1) + b"".join(body)


class _ArrayDumper(Dumper):
    format = Format.BINARY
    element_oid: ClassVar[int]


class _TextArrayDumper(_ArrayDumper):
    element_oid = types["text"].oid
    oid = types["text"].array_oid

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        connection = self.connection
        self._encoding = connection.info.encoding if connection is not None else "utf-8"

    def dump(self, obj: Any) -> bytes:
        body: list[bytes] = []
        nulls = False
        encoding = self._encoding
        for item in obj.items:
            if item is None:
                nulls = True
                body.append(_NULL)
            else:
                data = item.encode(encoding)
                body.append(_LENGTH.pack(len(data)))
                body.append(data)
        return _frame(self.element_oid, len(obj.items), nulls, body)


class _FixedWidthArrayDumper(_ArrayDumper):
    """Elements of one width: each is its length, then `value(item)` packed by `element`."""

    element: ClassVar[struct.Struct]

    def value(self, item: Any) -> int:
        return int(item)

    def dump(self, obj: Any) -> bytes:
        width = self.element.size - _LENGTH.size
        pack, value = self.element.pack, self.value
        body = [_NULL if item is None else pack(width, value(item)) for item in obj.items]
        return _frame(self.element_oid, len(obj.items), None in obj.items, body)


class _IntArrayDumper(_FixedWidthArrayDumper):
    element_oid = types["int4"].oid
    oid = types["int4"].array_oid
    element = struct.Struct(">ii")


class _TimestampArrayDumper(_FixedWidthArrayDumper):
    element_oid = types["timestamptz"].oid
    oid = types["timestamptz"].array_oid
    element = struct.Struct(">iq")

    def value(self, item: Any) -> int:
        # Microseconds since 2000-01-01 UTC, PostgreSQL's own timestamp encoding.
        micros: int = (item - _POSTGRES_EPOCH) // _MICROSECOND
        return micros


_DUMPERS: dict[type[_Array], type[_ArrayDumper]] = {
    TextArray: _TextArrayDumper,
    IntArray: _IntArrayDumper,
    TimestampArray: _TimestampArrayDumper,
}
_registered: weakref.WeakSet[Connection[Any]] = weakref.WeakSet()


def register(connection: Connection[Any]) -> None:
    """Teach `connection` these array types (once per connection; a membership test after)."""
    if connection in _registered:
        return
    for cls, dumper in _DUMPERS.items():
        connection.adapters.register_dumper(cls, dumper)
    _registered.add(connection)
