"""`dlpgate reload`: ask the running gateway (by its pid file) to re-read policy, detectors and lists."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from gateway.cli import add_config_argument


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("reload", help="re-read policy, detector YAML and lists in the running gateway (SIGHUP)")
    add_config_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.app import pidfile_path
    from gateway.config import load

    cfg = load(args.config)  # validate first: a bad file is reported here, before the gateway sees it
    path = pidfile_path(cfg)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        print(f"dlpgate reload: no running gateway found via {path} ({exc.__class__.__name__})", file=sys.stderr)
        return 1
    print(f"sent SIGHUP to {pid}")
    return 0
