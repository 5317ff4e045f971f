"""Worker processes for extraction and detection, with back-pressure and deadlines.

Parsing attachments and running spaCy is CPU work: it never runs on the event loop. Each worker builds its
``Scanner`` (models, patterns, lists) once. A message waits at most ``queue_wait_seconds`` for a worker
(then 451, never an unbounded queue) and gets ``deadline_seconds`` to finish (then 451: fail closed). A
worker that overruns far past the deadline is presumed stuck and the pool is replaced.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import structlog

from gateway.config import Config
from gateway.facts import ScanResult
from gateway.message_spool import SpoolRef

log = structlog.get_logger("dlpgate.workers")

_scanner: object | None = None


def _die_with_parent() -> None:
    """A worker must not outlive the gateway (SIGKILL, OOM kill): ask the kernel to kill it when the parent
    dies, and watch the parent pid as a fallback where prctl is unavailable."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            time.sleep(2)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_worker(config_dir: str, cases_snapshot: str | None = None) -> None:
    """Runs once in each worker: die with the parent, ignore Ctrl-C (the parent decides), build the scanner.
    ``cases_snapshot`` is the hashed case directory file this configuration generation was given: loaded here,
    once, so no message ever waits on the store."""
    global _scanner
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from gateway.config import load
    from gateway.logging import configure_logging
    from gateway.scan import Scanner, case_matcher

    configure_logging(json=True)
    cfg = load(config_dir)
    cases = case_matcher(cfg, Path(cases_snapshot)) if cases_snapshot else None
    _scanner = Scanner.from_config(cfg, cases=cases)


def _warm() -> int:
    time.sleep(0.05)  # keep this worker busy so the next warm-up call goes to another one
    return os.getpid()


def _scan_in_worker(message: bytes | SpoolRef, mail_from: str, rcpt_tos: tuple[str, ...]) -> ScanResult:
    """A large message arrives as a reference to its spool file rather than as bytes pickled by the parent, sent
    through a pipe and unpickled (three copies fewer), and the scanner reads the file block by block: its large
    attachments are only ever held decoded, never beside the raw message (``Scanner.read_message``)."""
    from gateway.scan import Scanner

    assert isinstance(_scanner, Scanner), "worker not initialised"
    return _scanner.scan(message, mail_from, rcpt_tos)


class PoolBusy(Exception):
    """No worker became free within the queue wait: a temporary failure for the client."""


class ScanTimeout(Exception):
    """The message missed its scan deadline: a temporary failure (fail closed)."""


class ScanPool:
    def __init__(self, cfg: Config, cases_snapshot: Path | None = None) -> None:
        settings = cfg.gateway.scan
        self.cfg = cfg
        self.cases_snapshot = cases_snapshot
        self.size = settings.workers or (os.cpu_count() or 1)
        self.deadline = settings.deadline_seconds
        self.queue_wait = settings.queue_wait_seconds
        capacity = self.size + (settings.max_queue or 4 * self.size)
        self._slots = asyncio.Semaphore(capacity)
        self.capacity = capacity
        self.waiting = 0
        self.running = 0
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self.ready = False

    def _new_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(str(self.cfg.directory), str(self.cases_snapshot) if self.cases_snapshot else None),
        )

    async def start(self) -> None:
        """Start every worker and wait until each has loaded its models (readiness)."""
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        pids = await asyncio.gather(
            *(loop.run_in_executor(self._executor, _warm) for _ in range(self.size * 2))
        )
        self.ready = True
        log.info("workers_ready", workers=self.size, pids=len(set(pids)))

    async def scan(self, raw: bytes | SpoolRef, mail_from: str, rcpt_tos: Sequence[str]) -> ScanResult:
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_wait)
        except TimeoutError:
            raise PoolBusy from None
        finally:
            self.waiting -= 1
        try:
            return await self._run(raw, mail_from, tuple(rcpt_tos))
        finally:
            self._slots.release()

    async def _run(self, raw: bytes | SpoolRef, mail_from: str, rcpt_tos: tuple[str, ...]) -> ScanResult:
        executor = self._executor
        if executor is None:
            raise RuntimeError("scan pool not started")
        loop = asyncio.get_running_loop()
        self.running += 1
        try:
            fut = loop.run_in_executor(executor, _scan_in_worker, raw, mail_from, rcpt_tos)
            try:
                return await asyncio.wait_for(asyncio.shield(fut), self.deadline)
            except TimeoutError:
                self._watch_overrun(fut, executor)
                raise ScanTimeout from None
            except BrokenProcessPool:
                log.error("worker_pool_broken")
                self._replace(executor)
                raise
        finally:
            self.running -= 1

    def _watch_overrun(self, fut: asyncio.Future[ScanResult], executor: concurrent.futures.Executor) -> None:
        """If the late task is still running at twice the deadline, the worker is stuck: replace the pool."""

        def check() -> None:
            if not fut.done() and self._executor is executor:
                log.error("worker_stuck_replacing_pool", deadline=self.deadline)
                self._replace(executor, kill=True)

        asyncio.get_running_loop().call_later(self.deadline, check)
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _replace(self, executor: concurrent.futures.Executor, *, kill: bool = False) -> None:
        if self._executor is not executor:
            return
        old = self._executor
        self._executor = self._new_executor()
        if kill and isinstance(old, concurrent.futures.ProcessPoolExecutor):
            for proc in list(getattr(old, "_processes", {}).values()):
                proc.kill()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        self.ready = False
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
