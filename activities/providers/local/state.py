"""Crash-safe JSON state files shared by every local provider.

Local providers keep their state (and the record of each effect applied under an idempotency
key) in one JSON document per store. `JsonState.update()` serialises writers twice over: a
per-path `threading.Lock` for activities running in threads of one worker, and an exclusive
`fcntl.flock` on a sibling `.lock` file for other processes. The new document is written to a
temporary file, fsynced and renamed over the old one, so a crash leaves either the old or the
new state, never a torn file. An effect and its idempotency record land in the same write,
so "applied but not recorded" cannot happen.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from activities.errors import ProviderError

Document = dict[str, Any]
ResultT = TypeVar("ResultT", bound=BaseModel)

_registry_lock = threading.Lock()
_path_locks: dict[Path, threading.Lock] = {}


def _thread_lock(path: Path) -> threading.Lock:
    with _registry_lock:
        return _path_locks.setdefault(path, threading.Lock())


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dump_json(doc: Any) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"


class JsonState:
    """One JSON document on disk, read freely and updated under an exclusive lock."""

    def __init__(self, path: Path, initial: Callable[[], Document] = dict) -> None:
        self.path = path.resolve()
        self._initial = initial

    def read(self) -> Document:
        try:
            doc: Document = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return self._initial()
        except ValueError as exc:
            raise ProviderError(f"state file is corrupt: {self.path}", retryable=False) from exc
        return doc

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock: other threads and processes wait until the block ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with _thread_lock(self.path), open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def update(self) -> Iterator[Document]:
        """Yield the document for in-place changes; write it back only if the block succeeds."""
        with self.locked():
            doc = self.read()
            before = dump_json(doc)
            yield doc
            after = dump_json(doc)
            if after != before:
                write_atomic(self.path, after)

    def effect_once(
        self,
        operation: str,
        idempotency_key: str,
        result_type: type[ResultT],
        apply: Callable[[Document], ResultT],
    ) -> ResultT:
        """Apply `apply` at most once per (operation, key); a repeat returns the first result.

        The result is stored in the same atomic write as the effect, so a caller that crashed
        after the effect gets the original result back on retry and nothing changes twice.
        """
        record_key = f"{operation}:{idempotency_key}"
        with self.update() as doc:
            effects: dict[str, Any] = doc.setdefault("effects", {})
            if record_key in effects:
                return result_type.model_validate(effects[record_key])
            result = apply(doc)
            effects[record_key] = result.model_dump(mode="json")
            return result
