"""``dlpgate cases import FILE [--delta] | status | keygen``: the case directory (issue 16).

The CSV is read, validated and hashed in this process (``detectors/casedir.py``); only keyed hashes reach the
database, and nothing of a row's content is printed or logged: rejected rows are named by line number and the
field that is wrong. Without a key the import is refused, with the way to set one, rather than storing anything
that could be reversed. Running gateways pick the new directory up at their next configuration generation
(``dlpgate reload``, or the periodic check in ``serve``).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.cli import add_config_argument
from gateway.commands.storecli import ensure_logging, os_user

if TYPE_CHECKING:
    from detectors.cases import CaseMatcher, CaseSnapshot
    from gateway.config import Config
    from gateway.store import Store


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cases", help="the case directory (case-aware recipients)")
    sub = parser.add_subparsers(dest="cases_command", required=True, metavar="ACTION")
    p = sub.add_parser("import", help="replace the case directory from a CSV (or apply a delta)")
    add_config_argument(p)
    p.add_argument("file", metavar="FILE", help="CSV with the header case_number,role,name,date_of_birth,email")
    p.add_argument("--delta", action="store_true",
                   help="add rows (and remove those with an `action` column of `remove`) instead of replacing")
    p.add_argument("--strict", action="store_true", help="import nothing when any row is rejected")
    p.set_defaults(func=run)
    p = sub.add_parser("status", help="size, age and key id of the imported directory")
    add_config_argument(p)
    p.set_defaults(func=run)
    p = sub.add_parser("keygen", help="print a new random key for cases.key_env")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.cases_command == "keygen":
        print(secrets.token_urlsafe(32))
        return 0
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.config import CaseKeyError, case_key, load
    from gateway.store.errors import StoreError

    ensure_logging()
    cfg = load(args.config)
    try:
        if args.cases_command == "import":
            try:
                key = case_key(cfg)
            except CaseKeyError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            return _import(cfg, key, Path(args.file), delta=args.delta, strict=args.strict)
        rc: int = asyncio.run(_with_store(cfg, _status, create=False))
        return rc
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, SQLAlchemyError) as exc:
        print(f"error: database unavailable or failing ({exc.__class__.__name__})", file=sys.stderr)
        return 1


async def _with_store(cfg: Config, body: Any, *, create: bool) -> Any:
    from gateway.store import Store

    store = await Store.open(cfg, create=create)
    try:
        return await body(cfg, store)
    finally:
        await store.close()


def _import(cfg: Config, key: bytes, file: Path, *, delta: bool, strict: bool) -> int:
    from detectors.casedir import read_directory
    from detectors.cases import key_id

    t0 = time.perf_counter()
    try:
        with file.open(encoding="utf-8-sig", newline="") as fh:
            parsed = read_directory(fh, key, delta=delta)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {file} ({exc.__class__.__name__})", file=sys.stderr)
        return 1
    for r in parsed.rejected[:200]:
        print(f"{file}:{r.line}: rejected: {r.reason}", file=sys.stderr)
    if len(parsed.rejected) > 200:
        print(f"... and {len(parsed.rejected) - 200} more rejected rows", file=sys.stderr)
    if parsed.rejected and (strict or (parsed.rejected[0].line == 1 and not parsed.adds)):
        print(f"error: nothing imported ({len(parsed.rejected)} rejected rows); the directory is unchanged",
              file=sys.stderr)
        return 1
    if not delta and not parsed.adds:
        print("error: no valid rows; the directory is unchanged", file=sys.stderr)
        return 1
    hashed = time.perf_counter() - t0
    kid = key_id(key)

    async def body(cfg: Config, store: Store) -> int:
        if delta:
            status = await store.apply_case_delta(parsed.adds, parsed.removes, key_id=kid, actor=os_user())
        else:
            status = await store.replace_case_directory(parsed.adds, key_id=kid, actor=os_user())
        what = f"{len(parsed.adds)} added, {len(parsed.removes)} removed" if delta else f"{len(parsed.adds)} rows"
        print(f"imported: {what}, {len(parsed.rejected)} rejected; directory now {status.rows} rows, "
              f"{status.cases} cases, key id {status.key_id}, generation {status.generation} "
              f"(hashed in {hashed:.1f}s, total {time.perf_counter() - t0:.1f}s)")
        return 0

    rc: int = asyncio.run(_with_store(cfg, body, create=True))
    return rc


async def _status(cfg: Config, store: Store) -> int:
    from detectors.cases import key_id
    from gateway.config import optional_case_key

    status = await store.case_directory_status()
    key = optional_case_key(cfg)
    configured = key_id(key) if key else None
    if status is None:
        print("no case directory imported (the case conditions never hold); "
              f"configured key id: {configured or 'none'}")
        return 1
    age = datetime.now(status.imported_at.tzinfo) - status.imported_at
    hours = age.total_seconds() / 3600
    print(f"rows: {status.rows}")
    print(f"cases: {status.cases}")
    print(f"imported: {status.imported_at.isoformat(timespec='seconds')} by {status.imported_by} "
          f"({hours / 24:.1f} days ago)" if hours >= 48 else
          f"imported: {status.imported_at.isoformat(timespec='seconds')} by {status.imported_by} "
          f"({hours:.1f} hours ago)")
    print(f"key id: {status.key_id}")
    print(f"generation: {status.generation}")
    if configured != status.key_id:
        print(f"warning: the configured key (id {configured or 'none'}) is not the key of the directory: the case "
              "conditions never hold until the directory is imported again with it", file=sys.stderr)
        return 1
    return 0


def load_case_matcher(cfg: Config) -> CaseMatcher | None:
    """The imported directory for ``dlpgate scan`` (read once from the store, hashed values only), so a message
    is judged as the relay would judge it. No database, no directory or no key: None (said on stderr)."""
    from detectors.cases import CaseMatcher
    from gateway.config import optional_case_key
    from gateway.store.engine import sqlite_file

    key = optional_case_key(cfg)
    path = sqlite_file(cfg)
    if key is None or (path is not None and not path.is_file()):
        return None

    async def body(cfg: Config, store: Store) -> CaseSnapshot | None:
        return await store.case_snapshot()

    try:
        snapshot = asyncio.run(_with_store(cfg, body, create=False))
    except Exception as exc:
        print(f"warning: case directory not loaded ({exc.__class__.__name__}); case conditions off", file=sys.stderr)
        return None
    if snapshot is None:
        return None
    try:
        return CaseMatcher(snapshot, key)
    except ValueError as exc:
        print(f"warning: {exc}", file=sys.stderr)
        return None


def csv_case_matcher(cfg: Config, file: Path) -> CaseMatcher | None:
    """A directory CSV hashed in memory with the configured key (``scan --cases``); None, said on stderr, when
    there is no key or the file has rejected rows."""
    from detectors.casedir import read_directory
    from detectors.cases import CaseMatcher, CaseSnapshot, key_id
    from gateway.config import CaseKeyError, case_key

    try:
        key = case_key(cfg)
    except CaseKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    try:
        with file.open(encoding="utf-8-sig", newline="") as fh:
            parsed = read_directory(fh, key)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {file} ({exc.__class__.__name__})", file=sys.stderr)
        return None
    for r in parsed.rejected:
        print(f"{file}:{r.line}: rejected: {r.reason}", file=sys.stderr)
    if parsed.rejected:
        return None
    return CaseMatcher(CaseSnapshot.build("csv", key_id(key), (r.snapshot_row() for r in parsed.adds)), key)
