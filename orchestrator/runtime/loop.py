"""One way to run a long-lived process's event loop: uvloop where it is installed.

uvloop comes with `uvicorn[standard]`, and `firebreak api` already gets it from uvicorn; using
it for `up` and `worker` too keeps one loop implementation across the processes. Where it is
missing (Windows, PyPy), the standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a uvloop loop when uvloop is importable."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
