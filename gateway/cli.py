"""`dlpgate` entry point. Each sub-command lives in ``gateway/commands/<name>.py`` and exposes
``register(subparsers)`` (adds its parser, sets ``func``) so commands stay small and independent."""

from __future__ import annotations

import argparse
import importlib
import sys

from gateway import __version__
from gateway.config_errors import ConfigError

COMMANDS = (
    "serve",
    "scan",
    "detect",
    "check_config",
    "reload",
    "quarantine",
    "incidents",
    "digest",
    "db",
    "passwd",
    "console",
    "users",
    "audit",
    "cases",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlpgate", description="Email data-loss-prevention gateway.")
    parser.add_argument("--version", action="version", version=f"dlpgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        # A listed command whose module is missing is a packaging error: fail, never drop it from --help.
        importlib.import_module(f"gateway.commands.{name}").register(sub)
    return parser


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None,
        help="config folder or its gateway.yaml (default: ./config if present, else the packaged defaults)",
    )


def main(argv: list[str] | None = None) -> int:
    from gateway.logging import configure_logging

    configure_logging(json=True)  # logs go to stderr, never into a command's stdout (scan --json)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
