"""`dlpgate serve`: run the gateway until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway.cli import add_config_argument


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the SMTP gateway")
    add_config_argument(p)
    p.add_argument("--listen", metavar="HOST:PORT", help="override server.listen_host/listen_port")
    p.add_argument("--upstream", metavar="URL", help="override upstream.url (smtp://h:p, maildir:PATH, ...)")
    p.add_argument("--log-format", choices=("json", "console"), default="json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.app import App, ListenError, apply_overrides
    from gateway.config import load
    from gateway.logging import configure_logging

    configure_logging(json=args.log_format == "json")
    cfg = apply_overrides(load(args.config), listen=args.listen, upstream=args.upstream)

    try:
        asyncio.run(App(cfg).run())
    except ListenError as exc:  # a busy port is an operator's mistake, not a crash: one line, no traceback
        print(f"dlpgate serve: {exc}", file=sys.stderr)
        return 1
    return 0
