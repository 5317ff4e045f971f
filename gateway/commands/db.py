"""``dlpgate db upgrade|current|keygen``: the schema, and the key for encryption at rest.

With PostgreSQL, run ``dlpgate db upgrade`` once per release before starting the nodes (they refuse to start
on an old schema unless ``store.auto_upgrade``); ``--sql`` prints the DDL for a DBA instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from gateway.cli import add_config_argument
from gateway.commands.storecli import ensure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="database schema and keys")
    sub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    p = sub.add_parser("upgrade", help="apply schema migrations")
    add_config_argument(p)
    p.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    p.set_defaults(func=run)
    p = sub.add_parser("current", help="show the schema revision; exit 1 if an upgrade is needed")
    add_config_argument(p)
    p.set_defaults(func=run)
    p = sub.add_parser("keygen", help="print a new key for store.encryption_key_env")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.db_command == "keygen":
        from gateway.store.crypto import generate_key

        print(generate_key())
        return 0
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.config import load
    from gateway.store import migrate
    from gateway.store.engine import database_url, make_engine, writer
    from gateway.store.errors import StoreError

    ensure_logging()
    cfg = load(args.config)
    if args.db_command == "upgrade" and args.sql:
        sys.stdout.write(migrate.offline_sql(database_url(cfg)))
        return 0

    async def main() -> int:
        engine = make_engine(cfg)
        try:
            async with engine.connect() as conn:
                before = await conn.run_sync(migrate.schema_status)
            if args.db_command == "current":
                print(before.describe())
                return 0 if before.up_to_date else 1
            if not before.known:
                print(f"error: {before.describe()}", file=sys.stderr)
                return 1
            if before.up_to_date:
                print(before.describe())
                return 0
            async with writer(engine).begin() as conn:
                await conn.run_sync(migrate.upgrade)
            async with engine.connect() as conn:
                after = await conn.run_sync(migrate.schema_status)
            print(f"upgraded from {before.current or 'empty'} to {after.current}")
            return 0
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, SQLAlchemyError) as exc:
        print(f"error: database unavailable or failing ({exc.__class__.__name__})", file=sys.stderr)
        return 1
