"""One generation of reloadable configuration: policy, detectors, lists, and what is built on them.

A transaction takes the current ``Runtime`` at MAIL FROM and keeps it to the end, so a reload (SIGHUP) never
changes the rules under a message in flight. The old generation's workers are closed once its last
transaction has finished. The runtime only holds the generation (configuration, evaluator, worker pool,
encryption smarthost) and counts its users; the pipeline does the work with what it holds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.config import Config
from gateway.evaluator import Evaluator
from gateway.exemptcache import ExemptionCache
from gateway.firsttime import RecipientHistory
from gateway.tasks import spawn
from gateway.upstream import Upstream, make_upstream
from gateway.workers import ScanPool


class Runtime:
    def __init__(self, cfg: Config, *, generation: int = 1, cases_snapshot: Path | None = None) -> None:
        self.cfg = cfg
        self.generation = generation
        self.cases_snapshot = cases_snapshot
        """The hashed case directory file this generation's workers load (issue 16); its name carries the
        import's generation id, so a node that sees a newer import builds a new runtime."""
        self.evaluator = Evaluator(cfg)
        self.history = RecipientHistory(cfg)
        self.exemptions = ExemptionCache()
        self.pool: ScanPool | None = ScanPool(cfg, cases_snapshot) if cfg.gateway.scan.enabled else None
        self.in_flight = 0
        self.retired = False
        self._closed = asyncio.Event()
        up = cfg.gateway.upstream
        self.smarthost: Upstream | None = (
            make_upstream(
                cfg.upstream_url(up.encryption_smarthost),
                local_hostname=up.helo_name or cfg.gateway.server.hostname,
                timeout=up.timeout,
                verify=up.tls_verify,
            )
            if up.encryption_smarthost
            else None
        )

    async def start(self) -> None:
        if self.pool is not None:
            await self.pool.start()

    @property
    def ready(self) -> bool:
        return self.pool is None or self.pool.ready

    def acquire(self) -> Runtime:
        self.in_flight += 1
        return self

    def release(self) -> None:
        self.in_flight -= 1
        if self.retired and self.in_flight == 0:
            spawn(self.close())

    def retire(self) -> None:
        """A newer generation took over: close once the last transaction on this one ends."""
        self.retired = True
        if self.in_flight == 0:
            spawn(self.close())

    async def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self.pool is not None:
            await self.pool.close()
        if self.smarthost is not None:
            await self.smarthost.close()
