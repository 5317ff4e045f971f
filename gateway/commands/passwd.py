"""`dlpgate passwd USER`: print a users-file line with an argon2id hash (the file never holds passwords)."""

from __future__ import annotations

import argparse
import getpass
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("passwd", help="hash a password for server.auth.users_file")
    p.add_argument("user")
    p.add_argument("--scrypt", action="store_true", help="scrypt instead of argon2id")
    p.add_argument("--stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.smtp.auth import hash_argon2, hash_scrypt

    if ":" in args.user or not args.user.strip():
        print("dlpgate passwd: user names cannot be empty or contain ':'", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("Password: ")
    if not password:
        print("dlpgate passwd: empty password", file=sys.stderr)
        return 2
    print(f"{args.user}:{hash_scrypt(password) if args.scrypt else hash_argon2(password)}")
    return 0
