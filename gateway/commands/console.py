"""``dlpgate console``: the review console alone (a separate review host on the gateway's database), until
SIGTERM. ``serve`` runs the same console beside the SMTP listener."""

from __future__ import annotations

import argparse
import asyncio
import signal

from gateway.cli import add_config_argument


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("console", help="run the review console only (no SMTP)")
    add_config_argument(p)
    p.add_argument("--listen", metavar="HOST:PORT", help="override console.listen")
    p.add_argument("--log-format", choices=("json", "console"), default="json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.config import load
    from gateway.logging import configure_logging

    configure_logging(json=args.log_format == "json")
    cfg = load(args.config)
    if args.listen:
        data = cfg.gateway.model_dump()
        data["console"]["listen"] = args.listen
        cfg = type(cfg)(directory=cfg.directory, gateway=type(cfg.gateway).model_validate(data), policy=cfg.policy,
                        detectors=cfg.detectors)
    asyncio.run(_main(cfg))
    return 0


async def _main(cfg: object) -> None:
    from gateway.config import Config
    from gateway.console.server import ConsoleServer
    from gateway.store import Store

    assert isinstance(cfg, Config)
    store = await Store.open(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = ConsoleServer(cfg, store)
    try:
        await server.start()
        await stop.wait()
    finally:
        await server.stop()
        await store.close()
