"""`dlpgate reload`: ask the running gateway (by its pid file) to re-read policy, detectors and lists, and wait
for its answer: a signal carries none, so the gateway writes the outcome to a status file beside the pid file
(``gateway.app.reload_status_path``) and this command polls it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from gateway.cli import add_config_argument


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "reload", help="re-read policy, detector YAML, lists and TLS certificates in the running gateway (SIGHUP)")
    add_config_argument(p)
    p.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS",
        help="how long to wait for the gateway to report the reload (default 60; 0 = do not wait)",
    )
    p.set_defaults(func=run)


def _status(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run(args: argparse.Namespace) -> int:
    from gateway.app import pidfile_path, reload_status_path
    from gateway.config import load

    cfg = load(args.config)  # validate first: a bad file is reported here, before the gateway sees it
    path = pidfile_path(cfg)
    status_path = reload_status_path(cfg)
    try:
        pid = int(path.read_text().strip())
        sent = time.time()
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        print(f"dlpgate reload: no running gateway found via {path} ({exc.__class__.__name__})", file=sys.stderr)
        return 1
    print(f"sent SIGHUP to {pid}")
    if args.timeout <= 0:
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        status = _status(status_path)
        if status is not None and status.get("pid") == pid and float(status.get("at", 0)) >= sent:
            if status.get("ok"):
                print(f"reloaded (generation {status.get('generation')})")
                return 0
            for problem in status.get("problems") or ["reload failed; see the gateway log"]:
                print(f"dlpgate reload: {problem}", file=sys.stderr)
            print("dlpgate reload: the gateway kept its running configuration", file=sys.stderr)
            return 2
        time.sleep(0.2)
    print(f"dlpgate reload: no answer from {pid} within {args.timeout:g}s (see the gateway log; status file "
          f"{status_path})", file=sys.stderr)
    return 1
