"""Shared plumbing for the governance commands (quarantine, incidents, digest, db): logging, who is acting,
dates as operators type them, opening the store, and one-line error reporting."""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog

from gateway.logging import configure_logging
from gateway.notify.formats import fmt_local
from gateway.store.errors import EncryptionKeyError, StoreError

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store
    from gateway.upstream import Upstream

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def safe(value: object) -> str:
    """Attachment names and addresses come from senders: no terminal escapes or bidi tricks on our screen."""
    return _CONTROL.sub("?", str(value))


def ensure_logging() -> None:
    """Logs go to stderr so that stdout stays clean for tables, CSV and JSON (unless serve or ``dlpgate``'s
    entry point configured them already). The same set-up as ``serve``'s, redaction processor included: these
    commands handle held messages and incidents, so their logs are no place for an address either."""
    if not structlog.is_configured():
        configure_logging(json=False, stream=_Stderr())


class _Stderr:
    """``sys.stderr`` looked up at each write: it may be replaced after logging is set up (tests, daemons)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def os_user() -> str:
    """The operating-system account running the command, from the password database by the REAL user id:
    ``$USER``/``$LOGNAME`` (what ``getpass.getuser`` reads first) and ``--by`` are typed, this is not."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def add_actor_arguments(parser: argparse.ArgumentParser, *, reason_required: bool) -> None:
    parser.add_argument(
        "--by", metavar="NAME", default=None,
        help="a note on who is acting (kept beside the operating-system user, who is recorded as the actor)",
    )
    parser.add_argument(
        "--reason", metavar="TEXT", required=reason_required, default=None, help="why (kept in the audit trail)"
    )


def actor_of(args: argparse.Namespace) -> str:
    """The audit trail's actor: always the operating-system user (``--by`` is only a note, see ``note_of``)."""
    return os_user()


def note_of(args: argparse.Namespace) -> str | None:
    return str(args.by) if getattr(args, "by", None) else None


def local_tz(cfg: Config) -> ZoneInfo:
    return ZoneInfo(cfg.gateway.digest.timezone)


_RELATIVE = re.compile(r"^(\d+)([dhm])$")


def parse_moment(value: str, tz: ZoneInfo, now: datetime) -> datetime:
    """``2026-03-10`` (local midnight), ``2026-03-10T14:00`` (local unless it carries an offset), or relative
    ``7d``/``24h``/``30m`` before now."""
    value = value.strip()
    m = _RELATIVE.match(value)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=tz)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or time: {value!r} (use YYYY-MM-DD, YYYY-MM-DDTHH:MM or 7d/24h)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def make_cli_upstream(cfg: Config) -> Upstream:
    from gateway.upstream import make_upstream

    up = cfg.gateway.upstream
    return make_upstream(
        cfg.upstream_url(up.url),
        local_hostname=up.helo_name or cfg.gateway.server.hostname,
        timeout=up.timeout,
        verify=up.tls_verify,
    )


def run_with_store(args: argparse.Namespace, body: Callable[[Config, Store], Awaitable[int]]) -> int:
    """Load config, open the existing store (never a new one: these commands look at what ``serve`` stored),
    run ``body``; store errors, a missing database included, print one line and exit 1."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.config import load
    from gateway.store import Store

    ensure_logging()
    cfg = load(args.config)

    async def main() -> int:
        store = await Store.open(cfg, create=False)
        try:
            return await body(cfg, store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except EncryptionKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, SQLAlchemyError) as exc:
        # Driver messages can quote SQL parameters (addresses): name the failure class only.
        print(f"error: database unavailable or failing ({exc.__class__.__name__}); see the store.url setting",
              file=sys.stderr)
        return 1


def fmt_time(moment: datetime | None, tz: ZoneInfo) -> str:
    return fmt_local(moment, tz) if moment else "-"
