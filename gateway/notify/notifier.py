"""What follows a commit: ``serve`` attaches a ``Notifier`` to the store (``Store.attach_listener``), which
starts the alert or the sender notice as a background task.

The store calls it after the commit and the SMTP reply does not wait for it; a failed task is logged by
reference and never raised. ``close`` gives tasks in flight a short time to finish at shutdown (an alert not
sent by then is claimed again by the next scheduler's retry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from gateway.notify.alerts import alerts_configured, send_alert
from gateway.notify.notices import notify_sender
from gateway.notify.syslog import SyslogSender

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.facts import ScanResult
    from gateway.policy.model import Decision
    from gateway.store import Store
    from gateway.submission import Submission
    from gateway.upstream import Upstream

log = structlog.get_logger(__name__)

TASK_DRAIN_SECONDS = 15.0


class Notifier:
    """The store's ``AfterCommit`` listener: sends through ``upstream`` (the relay's own next hop)."""

    def __init__(self, cfg: Config, store: Store, upstream: Upstream) -> None:
        self.cfg = cfg
        self.store = store
        self.upstream = upstream
        self._tasks: set[asyncio.Task[None]] = set()
        settings = cfg.gateway.syslog
        self.syslog = SyslogSender(settings) if settings.enabled else None

    @property
    def sends_alerts(self) -> bool:
        return alerts_configured(self.cfg)

    def potential_breach(self, ref: str) -> None:
        self._spawn(lambda: send_alert(self.cfg, self.store, self.upstream, ref), "alert", ref)

    def quarantined(self, ref: str, sub: Submission, scan: ScanResult, decision: Decision) -> None:
        if not (self.cfg.gateway.notifications.notify_sender_on_quarantine and sub.mail_from):
            return

        async def notice() -> None:
            await notify_sender(self.cfg, self.upstream, ref, sub, scan, decision, now=self.store.clock())

        self._spawn(notice, "notice", ref)

    def incident_recorded(self, ref: str, row: Mapping[str, Any]) -> None:
        """Every committed incident goes to the SIEM as one syslog event, when configured (issue 17)."""
        syslog = self.syslog
        if syslog is None:
            return
        self._spawn(lambda: syslog.incident(ref, row), "syslog", ref)

    def _spawn(self, factory: Callable[[], Awaitable[None]], what: str, reference: str) -> None:
        async def runner() -> None:
            try:
                await factory()
            except Exception as exc:
                log.error(f"{what}.failed", reference=reference, error=exc.__class__.__name__)

        task = asyncio.get_running_loop().create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every task started so far, and those they start (tests; graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Let pending alerts and notices finish (briefly), then cancel the rest."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=TASK_DRAIN_SECONDS)
            for task in pending:
                task.cancel()
