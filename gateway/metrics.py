"""Prometheus metrics, ``/healthz`` and ``/readyz`` on a small asyncio HTTP listener.

A hand-rolled HTTP/1.0 responder keeps this off threads and out of the SMTP path; prometheus-client only
renders the text format.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gateway.pipeline import Outcome

log = structlog.get_logger("dlpgate.metrics")

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Probes:
    """What the endpoint reads from the running gateway; given as callables so it needs no handle on the
    whole application (the app composes it, never the other way round)."""

    in_flight: Callable[[], int]
    connections: Callable[[], int]
    waiting: Callable[[], int]
    running: Callable[[], int]
    readiness: Callable[[], Awaitable[dict[str, bool | str]]]
    """Each check: True (ok), False (failed) or the reason it failed (``database_write FAIL <reason>``)."""
    warnings: Callable[[], dict[str, str]] = field(default=lambda: {})
    """Degraded but still ready (OCR on without tesseract): listed on /readyz as ``name WARN detail``."""


def _check_line(value: bool | str) -> str:
    if value is True:
        return "ok"
    return f"FAIL {value}" if isinstance(value, str) and value else "FAIL"


class MetricsServer:
    def __init__(self, listen: str, probes: Probes) -> None:
        self.listen = listen
        self.probes = probes
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("dlpgate_messages", "Messages by decision and SMTP reply class",
                                ["decision", "reply"], registry=r)
        self.rules = Counter("dlpgate_rule_hits", "Rules that fired, by mode", ["rule", "mode"], registry=r)
        self.scan_seconds = Histogram("dlpgate_scan_seconds", "Extraction + detection + decision time",
                                      buckets=_BUCKETS, registry=r)
        self.relay_seconds = Histogram("dlpgate_relay_seconds", "Time to act (relay, store) after the decision",
                                       buckets=_BUCKETS, registry=r)
        self.upstream_errors = Counter("dlpgate_upstream_errors", "Upstream unavailable or 4xx", registry=r)
        self.internal_errors = Counter("dlpgate_internal_errors", "Pipeline exceptions (answered 451)",
                                       registry=r)
        in_flight = Gauge("dlpgate_transactions_in_flight", "Messages between end of DATA and reply", registry=r)
        in_flight.set_function(lambda: float(probes.in_flight()))
        conns = Gauge("dlpgate_connections", "Open client connections", registry=r)
        conns.set_function(lambda: float(probes.connections()))
        waiting = Gauge("dlpgate_worker_queue", "Messages waiting for a scan worker", registry=r)
        waiting.set_function(lambda: float(probes.waiting()))
        busy = Gauge("dlpgate_workers_busy", "Scan workers running a message", registry=r)
        busy.set_function(lambda: float(probes.running()))
        self.port = 0

    def observe(self, out: Outcome) -> None:
        self.messages.labels(out.decision, f"{out.reply[:1]}xx").inc()
        for rule in out.rules:
            self.rules.labels(rule, "enforce").inc()
        for rule in out.monitor:
            self.rules.labels(rule, "monitor").inc()
        if "scan" in out.timings:
            self.scan_seconds.observe(out.timings["scan"])
        if "act" in out.timings:
            self.relay_seconds.observe(out.timings["act"])
        if out.upstream == "unavailable" or out.reply.startswith("451 4.4"):
            self.upstream_errors.inc()
        if out.error:
            self.internal_errors.inc()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            with contextlib.suppress(asyncio.TimeoutError):
                while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                    pass
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else "/"
            status, ctype, body = "404 Not Found", "text/plain", b"not found\n"
            if path == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
            elif path == "/healthz":
                status, body = "200 OK", b"ok\n"
            elif path == "/readyz":
                checks = await self.probes.readiness()
                ok = all(v is True for v in checks.values())
                status = "200 OK" if ok else "503 Service Unavailable"
                lines = [f"{k} {_check_line(v)}\n" for k, v in checks.items()]
                lines += [f"{k} WARN {v}\n" for k, v in self.probes.warnings().items()]
                body = "".join(lines).encode()
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()

    async def run(self, stop: asyncio.Event) -> None:
        host, _, port = self.listen.rpartition(":")
        try:
            server = await asyncio.start_server(self._handle, host.strip("[]"), int(port))
        except OSError as exc:
            # Name the address and the reason: "OSError" alone does not tell an operator which port clashed.
            log.error("metrics_listen_failed", listen=self.listen, error=exc.__class__.__name__,
                      detail=exc.strerror or str(exc))
            return
        self.port = server.sockets[0].getsockname()[1]
        log.info("metrics_listening", port=self.port)
        async with server:
            await stop.wait()
