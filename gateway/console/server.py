"""Run the console with uvicorn inside the gateway's own event loop (a task beside the SMTP server), on a socket
bound before it starts so that a taken port is reported at once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn

from gateway.console.app import build_app

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.store import Store

log = structlog.get_logger("dlpgate.console")


class _Server(uvicorn.Server):
    """The gateway owns the process's signals (SIGTERM drains SMTP, SIGHUP reloads): uvicorn must not take them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class ConsoleServer:
    def __init__(self, cfg: Config, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        self.sock: socket.socket | None = None
        self.server: _Server | None = None
        self.task: asyncio.Task[Any] | None = None

    @property
    def port(self) -> int:
        assert self.sock is not None
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.cfg.gateway.console.tls.cert else "http"
        host = parse_listen(self.cfg.gateway.console.listen)[0]
        return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def bind(self) -> None:
        host, port = parse_listen(self.cfg.gateway.console.listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.setblocking(False)
        self.sock = sock

    async def start(self) -> None:
        """Bind, then serve in a task; returns once the server accepts connections."""
        settings = self.cfg.gateway.console
        if self.sock is None:
            self.bind()
        tls: dict[str, Any] = {}
        if settings.tls.cert and settings.tls.key:
            tls = {"ssl_certfile": str(self.cfg.resolve(settings.tls.cert)),
                   "ssl_keyfile": str(self.cfg.resolve(settings.tls.key))}
        config = uvicorn.Config(
            build_app(self.cfg, self.store), log_config=None, access_log=False, server_header=False,
            proxy_headers=False, lifespan="off", timeout_graceful_shutdown=5, **tls,
        )
        self.server = _Server(config)
        assert self.sock is not None
        self.task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[self.sock]))
        for _ in range(200):
            if self.server.started or self.task.done():
                break
            await asyncio.sleep(0.02)
        if self.task.done():
            self.task.result()
        log.info("console.listening", url=self.url)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.task, 10)
        if self.sock is not None:
            self.sock.close()
