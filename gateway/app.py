"""Builds the components from config, runs the SMTP server, reloads on SIGHUP, shuts down gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from gateway.config import Config, command_line_url, load
from gateway.config_errors import ConfigError
from gateway.message_spool import clear_stale, fernet_from_env
from gateway.metrics import MetricsServer, Probes
from gateway.pipeline import Outcome, Pipeline
from gateway.policy.config import policy_warnings
from gateway.runtime import Runtime
from gateway.smtp.auth import UserDatabase
from gateway.smtp.handler import GatewayHandler, GatewaySMTP
from gateway.smtp.tls import server_context
from gateway.tasks import spawn
from gateway.upstream import Upstream, make_upstream

if TYPE_CHECKING:
    from gateway.console.server import ConsoleServer
    from gateway.notify.notifier import Notifier
    from gateway.store import Store

log = structlog.get_logger("dlpgate.app")


class ListenError(Exception):
    """The SMTP address cannot be bound; ``str()`` is the one line ``serve`` prints (address and error)."""


def apply_overrides(cfg: Config, *, listen: str | None = None, upstream: str | None = None) -> Config:
    """``--listen HOST:PORT`` and ``--upstream URL`` win over gateway.yaml (validated the same way)."""
    from gateway.config import GatewaySettings

    data = cfg.gateway.model_dump()
    if listen:
        host, sep, port = listen.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError.one("--listen", "listen", "expected HOST:PORT")
        data["server"]["listen_host"] = host.strip("[]") or "127.0.0.1"
        data["server"]["listen_port"] = int(port)
    if upstream:
        data["upstream"]["url"] = command_line_url(upstream)
    from gateway.config_errors import model_from_data

    gateway = model_from_data("command line", data, GatewaySettings)
    return Config(directory=cfg.directory, gateway=gateway, policy=cfg.policy, detectors=cfg.detectors)


@dataclass
class App:
    cfg: Config
    on_outcome: Callable[[Outcome], None] | None = None
    upstream: Upstream | None = None
    store: Store | None = None
    notifier: Notifier | None = None
    runtime: Runtime | None = None
    handler: GatewayHandler | None = None
    server: asyncio.base_events.Server | None = None
    _protocols: set[GatewaySMTP] = field(default_factory=set)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    generation: int = 1
    metrics: MetricsServer | None = None
    console: ConsoleServer | None = None
    cases_check_seconds: float = 60.0
    """How often ``serve`` looks for a newer case-directory import (issue 16)."""
    _listen_sock: socket.socket | None = None
    tls_context: ssl.SSLContext | None = None
    """The STARTTLS context new connections get; rebuilt from the certificate files on every reload (SIGHUP),
    so a renewed certificate is served without a restart (issue 17)."""

    def bind(self) -> None:
        """Take the SMTP port before anything slow (store, models): a second ``serve`` on a busy port fails in
        a moment with :class:`ListenError` instead of after loading the models (issue 17)."""
        gw = self.cfg.gateway.server
        address = f"{gw.listen_host}:{gw.listen_port}"
        try:
            infos = socket.getaddrinfo(gw.listen_host or None, gw.listen_port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
            family, _, _, _, sockaddr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(sockaddr)  # listen() comes from create_server once ready: until then clients are refused
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
        except OSError as exc:
            raise ListenError(f"cannot listen on {address}: {exc.strerror or exc}") from None
        self._listen_sock = sock

    @property
    def port(self) -> int:
        assert self.server is not None
        sockname: tuple[str, int] = self.server.sockets[0].getsockname()[:2]
        return sockname[1]

    async def start(self) -> None:
        gw = self.cfg.gateway
        self.upstream = make_upstream(
            self.cfg.upstream_url(gw.upstream.url),
            local_hostname=gw.upstream.helo_name or gw.server.hostname,
            timeout=gw.upstream.timeout,
            verify=gw.upstream.tls_verify,
        )
        if self.store is None:
            from gateway.notify.notifier import Notifier
            from gateway.store import Store

            self.store = await Store.open(self.cfg)
            self.notifier = Notifier(self.cfg, self.store, self.upstream)
            self.store.attach_listener(self.notifier)  # alerts and sender notices follow each commit
        self.runtime = Runtime(self.cfg, generation=self.generation, cases_snapshot=await self._cases_snapshot())
        await self.runtime.start()
        users = None
        if gw.server.auth.users_file is not None:
            users = UserDatabase.load(self.cfg.resolve(gw.server.auth.users_file))
        pipeline = Pipeline(self.store, self.upstream)
        spool_dir = self.cfg.state_dir / "spool" / "messages"
        stale = await asyncio.to_thread(clear_stale, spool_dir)  # left by a process that died mid-transaction
        if stale:
            log.info("message_spool_cleared", files=stale)
        key_env = gw.store.encryption_key_env
        self.handler = GatewayHandler(
            gw, pipeline, self.current_runtime, users, self._outcome,
            spool_dir=spool_dir, spool_key=fernet_from_env(key_env), spool_key_env=key_env,
        )
        self.tls_context = server_context(self.cfg)
        loop = asyncio.get_running_loop()
        handler = self.handler

        def factory() -> GatewaySMTP:
            proto = GatewaySMTP(
                handler,
                line_length_limit=gw.server.max_line_length,
                command_size_limit=gw.server.max_command_length,
                data_size_limit=gw.server.max_message_size,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=gw.server.hostname,
                ident="dlpgate",
                tls_context=self.tls_context,
                require_starttls=gw.server.tls.required,
                timeout=gw.server.idle_timeout,
                auth_require_tls=gw.server.auth.require_tls,
                auth_exclude_mechanism=[] if users else ["LOGIN", "PLAIN"],
                authenticator=handler.authenticator if users else None,
                loop=loop,
            )
            self._protocols.add(proto)
            return proto

        if self._listen_sock is not None:  # bound by run() before the models were loaded
            self.server = await loop.create_server(factory, sock=self._listen_sock)
        else:
            self.server = await loop.create_server(factory, host=gw.server.listen_host, port=gw.server.listen_port)
        log.info(
            "listening",
            host=gw.server.listen_host,
            port=self.port,
            upstream=self.upstream.description,
            scan=self.runtime.pool is not None,
        )
        for check, detail in self.warnings().items():
            log.warning("degraded", check=check, detail=detail)
        self._start_background()
        await self._start_console()

    async def _start_console(self) -> None:
        """The review console on its own listener, in this event loop. A console that cannot start (its port
        taken) is logged and left off: mail keeps flowing."""
        if not self.cfg.gateway.console.enabled or self.store is None:
            return
        from gateway.console.server import ConsoleServer

        console = ConsoleServer(self.cfg, self.store)
        try:
            await console.start()
        except (OSError, ValueError, SystemExit) as exc:
            log.error("console.failed", listen=self.cfg.gateway.console.listen, error=exc.__class__.__name__,
                      detail=str(exc)[:200])
            return
        self.console = console

    def _start_background(self) -> None:
        """Digest/retention scheduler and the metrics endpoint."""
        from gateway.notify.scheduler import run_digest_scheduler

        assert self.upstream is not None and self.store is not None
        # Always run: besides the digest (which it skips when digest.enabled is off) it retries alerts and
        # purges expired quarantine.
        self._tasks.append(
            asyncio.get_running_loop().create_task(
                run_digest_scheduler(self.cfg, self.store, self.upstream, self._stopped)
            )
        )
        if self.cfg.gateway.scan.enabled:
            self._tasks.append(asyncio.get_running_loop().create_task(self._watch_cases()))
        listen = self.cfg.gateway.metrics.listen
        if listen:
            self.metrics = MetricsServer(listen, self._probes())
            self._tasks.append(asyncio.get_running_loop().create_task(self.metrics.run(self._stopped)))

    async def _cases_snapshot(self) -> Path | None:
        """The hashed case directory for the next runtime's workers (issue 16), written under the state folder
        once per import generation. A store that cannot give it leaves the case conditions off (logged), never
        the gateway down: they are extra protection, not the reason mail flows."""
        if self.store is None or not self.cfg.gateway.scan.enabled:
            return None
        try:
            return await self.store.write_case_snapshot(self.cfg.state_dir / "cases")
        except Exception as exc:
            log.error("cases.snapshot_failed", error=exc.__class__.__name__)
            return None

    async def _watch_cases(self) -> None:
        """Another node (or ``dlpgate cases import``) may import a new directory: when its generation id differs
        from the one this node's workers hold, start a new configuration generation (as a reload does)."""
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.cases_check_seconds)
            if self._stopped.is_set() or self.store is None or self.runtime is None:
                continue
            try:
                status = await self.store.case_directory_status()
            except Exception as exc:
                log.warning("cases.check_failed", error=exc.__class__.__name__)
                continue
            held = self.runtime.cases_snapshot
            if status is not None and (held is None or status.generation not in held.name):
                log.info("cases.new_generation", generation=status.generation)
                await self.reload()
            await self._expire_history()

    async def _expire_history(self) -> None:
        """First-time history not used within ``cases.history_days`` is deleted (lookups already ignore it)."""
        assert self.store is not None
        days = self.cfg.gateway.cases.history_days
        try:
            gone = await self.store.expire_history(self.store.clock() - timedelta(days=days))
        except Exception as exc:
            log.warning("first_time.expire_failed", error=exc.__class__.__name__)
            return
        if gone:
            log.info("first_time.expired", pairs=gone)

    def _probes(self) -> Probes:
        def pool_count(attr: str) -> int:
            rt = self.runtime
            return int(getattr(rt.pool, attr)) if rt is not None and rt.pool is not None else 0

        return Probes(
            in_flight=lambda: self.handler.stats.in_flight if self.handler else 0,
            connections=lambda: self.handler.stats.connections if self.handler else 0,
            waiting=lambda: pool_count("waiting"),
            running=lambda: pool_count("running"),
            readiness=self.readiness,
            warnings=self.warnings,
        )

    def warnings(self) -> dict[str, str]:
        """What works less well than configured without stopping mail: shown at start, by ``check-config`` and
        on ``/readyz`` (which stays ready: OCR is optional, and holding all mail for it would be worse).

        ``ocr``: OCR is switched on but tesseract (or its language data) is missing, so images are only noted
        as not text-scanned (the policy's ``images_not_scanned`` condition)."""
        from gateway.mime.ocr import ocr_problem

        out: dict[str, str] = {}
        if self.cfg.gateway.scan.enabled and (problem := ocr_problem(self.cfg.gateway.extraction)):
            out["ocr"] = problem
        return out

    async def readiness(self) -> dict[str, bool | str]:
        """Ready means: models loaded, the next hop answers, the database answers and takes a write, and the
        spool folders take a file (issue 13: a read-only disk or an unreachable PostgreSQL is not ready, and
        /readyz says why: ``Store.write_probe``)."""
        checks: dict[str, bool | str] = {"models": bool(self.runtime and self.runtime.ready)}
        checks["upstream"] = bool(self.upstream and await self.upstream.probe())
        try:
            checks["database"] = bool(self.store is not None and await self.store.ping())
        except Exception:
            checks["database"] = False
        if self.store is not None:
            failed = await self.store.write_probe([("message_spool", self.cfg.state_dir / "spool" / "messages")])
            checks["database_write"] = failed.get("database_write", True)
            checks["spool"] = failed.get("spool", True)
            checks["message_spool"] = failed.get("message_spool", True)
        return checks

    def current_runtime(self) -> Runtime:
        assert self.runtime is not None
        return self.runtime

    def _outcome(self, out: Outcome) -> None:
        if self.metrics is not None:
            self.metrics.observe(out)
        if self.on_outcome is not None:
            self.on_outcome(out)

    async def reload(self) -> bool:
        """Re-read policy, detectors and lists. Any problem (a bad, empty or half-written file, or an error while
        reading it) keeps the running configuration: a reload must never leave the gateway with less policy
        than it had. The STARTTLS certificate and key (and the Exchange Online CA bundle) are re-read too, and
        only a pair that loads replaces the running one, together with the policy or not at all."""
        try:
            tls = await asyncio.to_thread(server_context, self.cfg)
            fresh = await asyncio.to_thread(load, self.cfg.directory)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload_failed", file=problem.file, key=problem.key, problem=problem.expected)
            self._reload_status(False, [str(p) for p in exc.problems])
            return False
        except Exception as exc:
            log.error("reload_failed", error=exc.__class__.__name__)
            self._reload_status(False, [f"unexpected error ({exc.__class__.__name__}); see the gateway log"])
            return False
        for warning in policy_warnings(fresh.policy):
            log.warning("policy_warning", problem=warning)
        cfg = Config(
            directory=self.cfg.directory, gateway=self.cfg.gateway, policy=fresh.policy, detectors=fresh.detectors
        )
        self.generation += 1
        runtime = Runtime(cfg, generation=self.generation, cases_snapshot=await self._cases_snapshot())
        try:
            await runtime.start()
        except Exception as exc:
            log.error("reload_failed", error=exc.__class__.__name__, detail=str(exc)[:300])
            await runtime.close()
            self._reload_status(False, [f"new configuration did not start ({exc.__class__.__name__}: "
                                        f"{str(exc)[:200]})"])
            return False
        old, self.runtime, self.cfg = self.runtime, runtime, cfg
        self.tls_context = tls  # connections accepted from now on; open ones keep the session they have
        if old is not None:
            old.retire()
        log.info("reloaded", generation=self.generation, tls=tls is not None)
        self._reload_status(True, [])
        return True

    def _reload_status(self, ok: bool, problems: list[str]) -> None:
        """Tell ``dlpgate reload`` (which sent the SIGHUP and waits) how it went: a small JSON file beside the
        pid file, since a signal has no reply channel. Best effort: the log says the same."""
        path = reload_status_path(self.cfg)
        record = {"pid": os.getpid(), "at": time.time(), "ok": ok, "generation": self.generation,
                  "problems": problems}
        tmp = path.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(record))
            tmp.replace(path)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting, let transactions in flight finish (bounded), then close everything."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        grace = self.cfg.gateway.server.shutdown_grace if grace is None else grace
        if self.handler is not None:
            self.handler.closing = True
        if self.server is not None:
            self.server.close()
        elif self._listen_sock is not None:  # bound, but start() failed before serving on it
            self._listen_sock.close()
        loop = asyncio.get_running_loop()
        end = loop.time() + grace
        while self.handler is not None and (self.handler.stats.in_flight or self.handler.stats.open_transactions):
            if loop.time() >= end:
                log.warning(
                    "shutdown_grace_expired",
                    in_flight=self.handler.stats.in_flight,
                    open=self.handler.stats.open_transactions,
                )
                break
            await asyncio.sleep(0.05)
        for proto in list(self._protocols):
            if proto.transport is not None:
                proto.transport.close()
        if self.console is not None:
            await self.console.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.runtime is not None:
            await self.runtime.close()
        if self.notifier is not None:
            await self.notifier.close()
        if self.upstream is not None:
            await self.upstream.close()
        if self.store is not None:
            await self.store.close()
        log.info("stopped")

    async def run(self) -> None:
        """Install signal handlers first (a SIGTERM during start-up is honoured), start, serve until stopped."""
        loop = asyncio.get_running_loop()
        term = asyncio.Event()

        def on_hup() -> None:
            log.info("signal", signal="HUP")
            if self.server is not None:
                spawn(self.reload())

        def on_term() -> None:
            log.info("signal", signal="TERM")
            term.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_term)
        loop.add_signal_handler(signal.SIGHUP, on_hup)
        pidfile = pidfile_path(self.cfg)
        mine = str(os.getpid())
        self.bind()  # a busy port ends here, before models load and before the pid file is touched
        try:
            await self.start()
            with contextlib.suppress(OSError):
                pidfile.parent.mkdir(parents=True, exist_ok=True)
                pidfile.write_text(mine)
            await term.wait()
        finally:
            await self.stop()
            # Only our own pid file: removing another instance's would leave `dlpgate reload` unable to find it.
            with contextlib.suppress(OSError):
                if pidfile.read_text().strip() == mine:
                    pidfile.unlink()


def pidfile_path(cfg: Config) -> Path:
    return cfg.state_dir / "dlpgate.pid"


def reload_status_path(cfg: Config) -> Path:
    """Where the gateway reports the outcome of the last SIGHUP reload (read by ``dlpgate reload``)."""
    return cfg.state_dir / "dlpgate.reload.json"
