"""The daily jobs of ``dlpgate serve``: write incidents spooled while the database was unavailable, retry
potential-breach alerts that did not go out, send yesterday's digest once ``digest.send_at`` has passed, and
apply the retention purge once a day."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog

from gateway.notify.alerts import retry_alerts
from gateway.notify.digest import send_digest

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store
    from gateway.upstream import Upstream

log = structlog.get_logger(__name__)

SCHEDULER_TICK_SECONDS = 60.0
RETRY_AFTER_FAILURE = timedelta(minutes=5)


def _send_time(cfg: Config) -> time:
    hh, mm = (int(x) for x in cfg.gateway.digest.send_at.split(":"))
    return time(hh, mm)


async def run_digest_scheduler(
    cfg: Config,
    store: Store,
    upstream: Upstream,
    stop: asyncio.Event,
    *,
    tick: float = SCHEDULER_TICK_SECONDS,
) -> None:
    """The daily jobs of ``dlpgate serve``, until ``stop`` is set: each tick, retry potential-breach alerts
    that did not go out; once the local time passes ``digest.send_at``, send the previous day's digest (once
    across nodes and restarts; a node started late catches up); once a day, apply the retention purge."""
    tz = ZoneInfo(cfg.gateway.digest.timezone)
    send_at = _send_time(cfg)
    done_day: date | None = None
    purged_on: date | None = None
    not_before: datetime | None = None
    while not stop.is_set():
        now = store.clock()
        local = now.astimezone(tz)
        try:
            await store.replay_spool()  # incidents spooled while the database was unavailable (first: start-up)
        except Exception as exc:
            log.error("scheduler.spool_failed", error=exc.__class__.__name__)
        try:
            await retry_alerts(cfg, store, upstream)
        except Exception as exc:
            log.error("scheduler.alerts_failed", error=exc.__class__.__name__)
        day = local.date() - timedelta(days=1)
        due = cfg.gateway.digest.enabled and local.time() >= send_at and day != done_day
        if due and (not_before is None or now >= not_before):
            try:
                if await store.digest_state(day) == "sent":
                    done_day = day
                else:
                    outcome = await send_digest(cfg, store, upstream, day=day, now=now)
                    if outcome.status == "sent":
                        done_day = day
                    elif outcome.status == "failed":
                        not_before = now + RETRY_AFTER_FAILURE
            except Exception as exc:
                log.error("scheduler.digest_failed", error=exc.__class__.__name__)
                not_before = now + RETRY_AFTER_FAILURE
        if purged_on != local.date():
            try:
                await store.purge_expired()
                purged_on = local.date()
            except Exception as exc:
                log.error("scheduler.purge_failed", error=exc.__class__.__name__)
        try:
            await asyncio.wait_for(stop.wait(), timeout=tick)
        except TimeoutError:
            pass
