"""``dlpgate users add|list|role|passwd|disable|enable``: review-console accounts (issue 14), kept in the store so
every node sees them. Separate from SMTP AUTH users (``dlpgate passwd``). Passwords are argon2id hashes, at
least 12 characters; every change is an audit row naming the operating-system user."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from gateway.cli import add_config_argument
from gateway.commands.storecli import os_user, run_with_store, safe

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store

ROLES = ("auditor", "reviewer", "approver", "admin")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("users", help="review-console accounts and roles")
    sub = parser.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    p = sub.add_parser("add", help="add a console account (asks for its password)")
    add_config_argument(p)
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=run)
    p = sub.add_parser("list", help="accounts, roles and lock state")
    add_config_argument(p)
    p.set_defaults(func=run)
    p = sub.add_parser("role", help="change an account's role")
    add_config_argument(p)
    p.add_argument("name")
    p.add_argument("role", choices=ROLES)
    p.set_defaults(func=run)
    p = sub.add_parser("passwd", help="set an account's password (also unlocks it)")
    add_config_argument(p)
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=run)
    for verb in ("disable", "enable"):
        p = sub.add_parser(verb, help=f"{verb} an account")
        add_config_argument(p)
        p.add_argument("name")
        p.set_defaults(func=run)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    from gateway.console.security import WeakPassword, hash_password
    from gateway.store import Conflict, NotFound

    password_hash = None
    if args.users_command in ("add", "passwd"):
        try:
            password_hash = hash_password(_password(args))
        except (WeakPassword, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    async def body(cfg: Config, store: Store) -> int:
        actor = os_user()
        cmd = args.users_command
        try:
            if cmd == "add":
                await store.add_account(args.name, args.role, password_hash, actor=actor)
                print(f"{args.name}: added ({args.role})")
            elif cmd == "role":
                await store.set_role(args.name, args.role, actor=actor)
                print(f"{args.name}: {args.role}")
            elif cmd == "passwd":
                assert password_hash is not None
                await store.set_password(args.name, password_hash, actor=actor)
                print(f"{args.name}: password set")
            elif cmd in ("disable", "enable"):
                await store.set_disabled(args.name, cmd == "disable", actor=actor)
                print(f"{args.name}: {cmd}d")
            else:
                for a in await store.list_accounts():
                    state = "disabled" if a.disabled else ("locked" if a.locked_until else "active")
                    print(f"{safe(a.name):<32} {a.role:<9} {state}")
        except (Conflict, NotFound) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0

    return run_with_store(args, body)
