"""``dlpgate digest send [--date YYYY-MM-DD] [--dry-run]``: the governance digest by hand.

``serve`` sends it every day by itself (``gateway.notify.scheduler``); this command is for a
missed day, a re-send (``--force``) or checking an edited template (``--dry-run`` prints and sends nothing).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

from gateway.cli import add_config_argument
from gateway.commands.storecli import make_cli_upstream, run_with_store

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store


def _day(value: str) -> date | str:
    """YYYY-MM-DD, or ``today``/``yesterday`` (checking today's digest so far is the common dry run). The
    words are resolved later, in ``digest.timezone``, once the configuration is loaded."""
    word = value.strip().lower()
    if word in ("today", "yesterday"):
        return word
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("digest", help="the daily governance digest")
    sub = parser.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    p = sub.add_parser("send", help="build and send one day's digest (default: yesterday, local time)")
    add_config_argument(p)
    p.add_argument("--date", type=_day, metavar="YYYY-MM-DD|today",
                   help="the day to cover (digest.timezone); also 'today' or 'yesterday'")
    p.add_argument("--dry-run", action="store_true", help="print the digest, send and record nothing")
    p.add_argument(
        "--format", choices=("text", "html", "eml"), default="text", help="what --dry-run prints (default text)"
    )
    p.add_argument("--force", action="store_true", help="send even if that day's digest already went out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_with_store(args, lambda cfg, store: _send(args, cfg, store))


def _resolve_day(value: date | str | None, cfg: Config) -> date | None:
    """``today``/``yesterday`` as the digest's own calendar (digest.timezone) sees them, not the host's."""
    if not isinstance(value, str):
        return value
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(cfg.gateway.digest.timezone)).date()
    return today if value == "today" else today - timedelta(days=1)


async def _send(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    from gateway.notify.digest import send_digest

    args.date = _resolve_day(args.date, cfg)

    if args.dry_run:
        outcome = await send_digest(cfg, store, None, day=args.date, dry_run=True)
        assert outcome.message is not None
        if args.format == "eml":
            sys.stdout.write(outcome.message.as_string())
        else:
            subtype = "plain" if args.format == "text" else "html"
            part = outcome.message.get_body(preferencelist=(subtype,))
            assert part is not None
            if args.format == "text":
                print(f"Subject: {outcome.message['Subject']}\n")
            sys.stdout.write(part.get_content())
        return 0
    upstream = make_cli_upstream(cfg)
    try:
        outcome = await send_digest(cfg, store, upstream, day=args.date, force=args.force)
    finally:
        await upstream.close()
    day = outcome.day.isoformat()
    if outcome.status == "sent":
        print(f"digest for {day} sent to {cfg.gateway.digest.to}")
        return 0
    if outcome.status == "already_sent":
        print(f"digest for {day} was already sent (or is being sent); use --force to send it again",
              file=sys.stderr)
        return 1
    if outcome.status == "busy":
        print("another node is sending a digest right now; try again shortly", file=sys.stderr)
        return 1
    print(f"error: digest for {day} not sent: {outcome.error}", file=sys.stderr)
    return 1
