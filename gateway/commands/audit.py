"""``dlpgate audit verify``: walk the hash-chained audit trail and say whether any row was removed, added or
edited (exit 0 intact, 1 broken)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.cli import add_config_argument
from gateway.commands.storecli import run_with_store

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="check the audit trail's hash chain")
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    p = sub.add_parser("verify", help="check every row's link to the row before")
    add_config_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    async def body(cfg: Config, store: Store) -> int:
        report = await store.verify_audit_chain()
        if report.ok:
            print(f"audit trail intact: {report.rows} rows")
            return 0
        print(f"audit trail BROKEN at row {report.broken_at}: {report.problem} ({report.rows} rows read)")
        return 1

    return run_with_store(args, body)
