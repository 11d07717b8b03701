"""`firebreak detect run`: inputs → engine → alerts, with baselines loaded and saved.

One asyncio loop: each input feeds the engine in batches (`observe` is in-memory and fast),
detections go through a bounded queue to the sender (so a slow API slows reading, never loses
a detection), and the changed baselines are saved every `save_every` seconds and on stop. The
engine is only ever touched from the loop; saving runs in a thread on a snapshot of the rows.
With a store and an evicting engine, each batch first takes back from the store the baselines
of the subjects it names that the engine does not hold (new, or evicted while idle), and each
save reports the subjects held (`firebreak_detect_subjects`).
Files that are not followed end the run when read; an OTLP receiver or a followed file runs
until `stop` is set (SIGINT/SIGTERM in the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import uvicorn

from orchestrator.detection.alerts import DeliveryFailed, Sender
from orchestrator.detection.engine import Baseline, DetectionEngine
from orchestrator.detection.inputs.jsonl import JsonlMapping
from orchestrator.detection.inputs.receiver import otlp_app
from orchestrator.detection.inputs.sources import InputSpec, Parser, read_lines
from orchestrator.detection.models import Detection, TelemetryEvent
from orchestrator.detection.store import BaselineStore
from orchestrator.errors import ConfigError
from orchestrator.telemetry.instruments import DETECT_EVICTED, DETECT_SUBJECTS

log = logging.getLogger(__name__)

SAVE_EVERY_SECONDS = 10.0
QUEUE_SIZE = 1000
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass
class RunStats:
    events: int = 0
    detections: int = 0
    unreadable: int = 0
    saved: int = 0
    undelivered: int = 0
    subjects: int = 0  # held in memory, as of the latest save
    evicted: int = 0
    reloaded: int = 0  # baselines taken back from the store for returning subjects
    by_detector: dict[str, int] = field(default_factory=dict)


class _QuietServer(uvicorn.Server):
    """The receiver's server; the runner owns the signals and stops it with `should_exit`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _check_exposure(spec: InputSpec, token: str | None) -> None:
    """A receiver beyond loopback takes telemetry only from senders that hold the token."""
    host = spec.target.rpartition(":")[0].strip("[]")
    if host not in LOOPBACK and not token:
        raise ConfigError(
            f"--input otlp://{spec.target} listens beyond loopback: set "
            "FIREBREAK_DETECT_OTLP_TOKEN so only your collectors can send telemetry"
        )


class DetectRunner:
    def __init__(
        self,
        engine: DetectionEngine,
        sender: Sender,
        store: BaselineStore | None = None,
        *,
        save_every: float = SAVE_EVERY_SECONDS,
    ) -> None:
        if engine.evicts and store is None:
            raise ValueError("an evicting engine needs a store to save and reload baselines")
        self.engine = engine
        self.sender = sender
        self.store = store
        self.save_every = save_every
        self.stats = RunStats()
        self._queue: asyncio.Queue[Detection | None] = asyncio.Queue(QUEUE_SIZE)
        self._engine_lock = asyncio.Lock()
        self._unsaved: dict[tuple[str, str], Baseline] = {}
        self._fatal: BaseException | None = None
        self.listening: list[tuple[str, int]] = []
        self._server_tasks: list[asyncio.Task[None]] = []
        self._sockets: list[socket.socket] = []

    async def handle(self, events: Sequence[TelemetryEvent]) -> None:
        """Feed events to the engine; queue what they raise."""
        found: list[Detection] = []
        # held from the lookup to the last event: a save's sweep in between could evict a
        # subject the batch was told is held, which would then start again from nothing
        async with self._engine_lock:
            if self.store is not None and self.engine.evicts:
                await self._reload(events)
            observe = self.engine.observe
            for event in events:
                found.extend(observe(event))
        for detection in found:
            self.stats.detections += 1
            counts = self.stats.by_detector
            counts[detection.detector] = counts.get(detection.detector, 0) + 1
            log.info("detected %s: %s", detection.fingerprint, detection.explanation)
            await self._queue.put(detection)
        self.stats.events += len(events)

    async def _reload(self, events: Sequence[TelemetryEvent]) -> None:
        """Give back the stored baselines of the subjects these events name that the engine
        does not hold: one query for the batch, none when all are held. A baseline flushed
        but not yet written (an eviction the save thread is still writing) is taken from
        memory, or the store would hand back the row before it."""
        assert self.store is not None
        wanted = self.engine.absent(events)
        if not wanted:
            return
        unsaved = [self._unsaved[w] for w in wanted if w in self._unsaved]
        rest = [w for w in wanted if w not in self._unsaved]
        found = await asyncio.to_thread(self.store.find, rest) if rest else []
        self.stats.reloaded += self.engine.load([*unsaved, *found], missing=True)

    async def run(
        self,
        inputs: Sequence[InputSpec],
        mapping: JsonlMapping,
        *,
        follow: bool = False,
        stop: asyncio.Event | None = None,
        otlp_token: str | None = None,
        on_listening: Callable[[str, int], Awaitable[None] | None] | None = None,
    ) -> RunStats:
        """Run until the inputs end (files, unfollowed) or `stop` is set; save baselines."""
        stop = stop or asyncio.Event()
        for spec in inputs:
            if spec.kind == "otlp":
                _check_exposure(spec, otlp_token)
        sending = asyncio.create_task(self._send_all(stop))
        saving = asyncio.create_task(self._save_every(stop))
        stopped = asyncio.create_task(stop.wait())
        servers: list[_QuietServer] = []
        readers: list[asyncio.Task[object]] = []
        try:
            for spec in inputs:
                if spec.kind == "otlp":
                    servers.append(await self._serve(spec, otlp_token, on_listening))
                else:
                    readers.append(asyncio.create_task(self._read(spec, mapping, follow)))
            pending: set[asyncio.Task[object]] = set(readers)
            while pending and not stop.is_set():
                done, pending = await asyncio.wait(
                    pending | {stopped}, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(stopped)
                for task in done:
                    if task is not stopped and (failure := task.exception()) is not None:
                        raise failure
            if servers or follow:
                await stop.wait()
        finally:
            stop.set()
            stopped.cancel()
            for reader in readers:
                reader.cancel()
            for server in servers:
                server.should_exit = True
            for server_task in self._server_tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await server_task
            for sock in self._sockets:
                sock.close()
            await self._queue.put(None)
            await sending
            saving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saving
            await self.save()
            await self.sender.aclose()
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    async def _serve(
        self,
        spec: InputSpec,
        token: str | None,
        on_listening: Callable[[str, int], Awaitable[None] | None] | None,
    ) -> _QuietServer:
        host, _, port = spec.target.rpartition(":")
        host = host.strip("[]")
        # bound here, not by uvicorn: a port in use is then a one-line configuration error
        # instead of uvicorn's sys.exit inside a task
        try:
            sock = socket.create_server((host, int(port)), family=_family(host))
        except OSError as exc:
            raise ConfigError(
                f"--input otlp://{spec.target}: cannot listen there ({exc.strerror or exc})"
            ) from None
        config = uvicorn.Config(
            otlp_app(self.handle, token),
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            lifespan="off",
        )
        server = _QuietServer(config)
        self._sockets.append(sock)
        self._server_tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        while not server.started:
            if self._server_tasks[-1].done():
                raise ConfigError(f"--input otlp://{spec.target}: the receiver did not start")
            await asyncio.sleep(0.02)
        bound = sock.getsockname()
        self.listening.append((str(bound[0]), int(bound[1])))
        log.warning("receiving OTLP/HTTP on http://%s:%d", bound[0], bound[1])
        if on_listening is not None:
            maybe = on_listening(str(bound[0]), int(bound[1]))
            if maybe is not None:
                await maybe
        return server

    async def _read(self, spec: InputSpec, mapping: JsonlMapping, follow: bool) -> None:
        parser = Parser(spec, mapping)
        try:
            async for lines in read_lines(spec.target, follow):
                await self.handle(parser.events(lines))
        finally:
            self.stats.unreadable += parser.errors

    async def _send_all(self, stop: asyncio.Event) -> None:
        while (detection := await self._queue.get()) is not None:
            if self._fatal is not None:
                continue
            try:
                await self.sender.send(detection)
            except DeliveryFailed as exc:
                self.stats.undelivered += 1
                log.error("%s", exc.detail)
            except ConfigError as exc:
                # every later alert would be refused the same way: stop, saying why
                self._fatal = exc
                stop.set()

    async def _save_every(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.save_every)
            await self.save()

    async def save(self) -> None:
        """Save the baselines changed since the last save."""
        if self.store is None:
            self._report(0)
            return
        async with self._engine_lock:
            evicted = self.engine.evicted
            changed = self.engine.flush()
            self._report(self.engine.evicted - evicted)
        if not changed:
            return
        for baseline in changed:
            self._unsaved[(baseline.detector, baseline.subject)] = baseline
        self.stats.saved += await asyncio.to_thread(self.store.save, changed)
        for baseline in changed:
            key = (baseline.detector, baseline.subject)
            if self._unsaved.get(key) is baseline:  # not flushed again since
                del self._unsaved[key]

    def _report(self, evicted: int) -> None:
        held = self.engine.held()
        for detector, count in held.items():
            DETECT_SUBJECTS.labels(detector).set(count)
        DETECT_EVICTED.inc(evicted)
        self.stats.subjects = sum(held.values())
        self.stats.evicted += evicted
