"""aiosmtpd hooks: relay checks, limits, proxy semantics towards the upstream, DATA → pipeline.

Proxy semantics (Postfix before-queue filter): the upstream transaction opens at MAIL FROM and each RCPT is
passed through, so an upstream refusal of one recipient reaches the client at RCPT time. The reply to DATA
is decided by ``gateway.pipeline`` and sent last.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography.fernet import MultiFernet

from detectors.routing import has_route
from gateway.config import GatewaySettings
from gateway.message_spool import MessageSpool
from gateway.pipeline import Envelope as RelayEnvelope
from gateway.pipeline import Outcome, Pipeline
from gateway.runtime import Runtime
from gateway.smtp import replies
from gateway.smtp.auth import UserDatabase
from gateway.smtp.collect import Budget, DataCollector
from gateway.smtp.sanitize import has_control, received_line, smtp_path
from gateway.smtp.tls import certificate_names, name_matches
from gateway.submission import Submission
from gateway.tasks import spawn
from gateway.upstream import MaildirUpstream, Transaction, UpstreamError

log = structlog.get_logger("dlpgate.smtp")


@dataclass
class TxnState:
    """Per-transaction state, kept on the connection's ``GatewaySession``."""

    txn_id: str
    runtime: Runtime
    upstream: Transaction | None
    env: RelayEnvelope
    started: float
    deadline: asyncio.TimerHandle | None = None
    tenant_check: bool = False
    """Admitted only as the Exchange Online connector: each message must carry the configured tenant id."""


class GatewaySession(Session):
    """aiosmtpd's session with a typed slot for our transaction (made by ``GatewaySMTP._create_session``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.txn: TxnState | None = None
        self.body: DataCollector | None = None
        """The DATA being received or processed (``GatewaySMTP.smtp_DATA`` owns and closes it)."""
        self.network_allowed: bool | None = None
        """The client address is in allowed_networks (worked out once per connection)."""
        self.exchange_admitted: bool | None = None
        """The client's verified TLS certificate names the Exchange Online connector (once per TLS session)."""

    @property
    def auth_user(self) -> str | None:
        """The user name the authenticator returned as ``auth_data`` once AUTH succeeded."""
        return self.auth_data if self.authenticated and isinstance(self.auth_data, str) else None


@dataclass
class Stats:
    """Live counters read by metrics and shutdown."""

    connections: int = 0
    in_flight: int = 0
    open_transactions: int = 0


class GatewaySMTP(SMTP):
    """aiosmtpd's server protocol with our limits: long DATA lines, longer commands, a connection cap."""

    def __init__(
        self,
        handler: GatewayHandler,
        *,
        line_length_limit: int,
        command_size_limit: int,
        **kwargs: Any,
    ) -> None:
        self.line_length_limit = line_length_limit
        self.command_size_limit = command_size_limit
        # aiosmtpd keeps this dict on the class; an instance copy keeps connections from sharing it.
        self.command_size_limits = collections.defaultdict(lambda: command_size_limit)
        self._over_capacity = False
        self._gateway = handler
        self.counted_client: str | None = None
        """The client address while this connection counts against its pre-AUTH limit."""
        super().__init__(handler, **kwargs)

    def _create_session(self) -> GatewaySession:
        return GatewaySession(self.loop)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's ``SMTP._getaddr``, made cheaper (``sanitize.smtp_path``): the same parse, the same limit."""
        return smtp_path(arg, self.local_part_limit)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        if first:
            refusal = self._gateway.admit(self, transport.get_extra_info("peername"))
            if refusal is not None:
                self._over_capacity = True
                transport.write((refusal + "\r\n").encode())  # type: ignore[attr-defined]
                transport.close()
                return
            self._gateway.stats.connections += 1
        elif isinstance(self.session, GatewaySession):
            # STARTTLS: aiosmtpd starts a new session (RFC 3207 4.2); a transaction opened before it ends here.
            self._gateway.end_transaction(self.session, abort=True)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._over_capacity:
            return
        if self.transport is not None:
            self._gateway.stats.connections -= 1
        self.release_client_slot()
        if isinstance(self.session, GatewaySession):
            self._gateway.end_transaction(self.session, abort=True)
        super().connection_lost(error)

    def release_client_slot(self) -> None:
        """Stop counting this connection against its address's pre-AUTH limit (authenticated, or gone)."""
        ip, self.counted_client = self.counted_client, None
        if ip is not None:
            left = self._gateway.pre_auth[ip] - 1
            if left > 0:
                self._gateway.pre_auth[ip] = left
            else:
                del self._gateway.pre_auth[ip]

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA (same checks, limits and replies) with each line handed to a ``DataCollector`` as it
        arrives, instead of a list of every line joined at the end: a large message goes to a spool file and is
        never held in memory whole (issue 13)."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        session = self.session
        assert isinstance(session, GatewaySession)
        body = session.body = self._gateway.new_collector()
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            state = await self._receive(body)
            if state is None:
                return
            if state:
                await self.push(state)
                self._set_post_data_state()  # type: ignore[no-untyped-call]  # aiosmtpd's, unannotated
                return
            body.finish()
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            session.body = None
            body.close()  # spool removed and budget given back before the client hears the outcome
            await self.push("250 OK" if status is MISSING else status)
        finally:
            session.body = None
            body.close()

    async def _receive(self, body: DataCollector) -> str | None:
        """Read DATA up to the lone dot: "" when it is complete, the 5xx when too long or too large, None
        when the connection went away. The line loop is aiosmtpd's (``SMTP.smtp_DATA``)."""
        too_long = too_much = False
        num_bytes = 0
        limit = self.data_size_limit
        fragments: list[bytes] = []
        while self.transport is not None:
            try:
                line: bytes = await self._reader.readuntil(b"\r\n")
            except asyncio.CancelledError:
                self._writer.close()  # the connection was reset during DATA
                raise
            except asyncio.LimitOverrunError as exc:
                # A line over the stream limit: drain it, answer once the data is complete (RFC 5321 4.2.5).
                too_long = too_long or not too_much
                body.discard()
                line = await self._reader.read(exc.consumed)
            if not fragments and line == b".\r\n":
                break
            num_bytes += len(line)
            if not (too_long or too_much) and limit and num_bytes > limit:
                too_much = True
                body.discard()
            fragments.append(line)
            if line.endswith(b"\r\n"):
                if not (too_long or too_much):
                    whole = fragments[0] if len(fragments) == 1 else b"".join(fragments)
                    if len(whole) > self.line_length_limit:
                        too_long = True
                        body.discard()
                    else:
                        body.feed(whole)
                fragments.clear()
        else:
            return None
        if too_long:
            return "500 Line too long (see RFC5321 4.5.3.1.6)"
        if too_much:
            return "552 Error: Too much mail data"
        return ""


def _declared_size(mail_options: list[str]) -> int:
    """The SIZE= a client declared at MAIL (RFC 1870), or 0."""
    for opt in mail_options:
        key, _, value = opt.partition("=")
        if key.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


class GatewayHandler:
    def __init__(
        self,
        settings: GatewaySettings,
        pipeline: Pipeline,
        get_runtime: Callable[[], Runtime],
        users: UserDatabase | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        *,
        spool_dir: Path | None = None,
        spool_key: MultiFernet | None = None,
        spool_key_env: str | None = None,
    ) -> None:
        self.settings = settings
        self.spool_dir = spool_dir if spool_dir is not None else Path("var/spool/messages")
        """Where large messages in flight are kept (the app passes ``state_dir/spool/messages``)."""
        self.spool_key = spool_key
        self.spool_key_env = spool_key_env
        self.budget = Budget(settings.server.max_in_flight_bytes)
        self.pipeline = pipeline
        self.get_runtime = get_runtime
        self.users = users
        self.on_outcome = on_outcome
        self.stats = Stats()
        self.closing = False
        self.networks = [ipaddress.ip_network(n, strict=False) for n in settings.server.allowed_networks]
        self.pre_auth: collections.Counter[str] = collections.Counter()
        """Open connections per client address outside allowed_networks that have not authenticated."""
        self.maildir_upstream = isinstance(pipeline.upstream, MaildirUpstream)
        exo = settings.server.exchange_online
        self.exchange = exo if exo.enabled else None
        self.tenant_id = (exo.tenant_id or "").lower()
        self.watch_header = exo.tenant_header.encode("ascii") if exo.enabled else None

    # ------------------------------------------------------------------ helpers

    def relay_allowed(self, session: Session) -> bool:
        return self.admission(session) is not None

    def admission(self, session: Session) -> str | None:
        """How this client may relay: ``auth``, ``network`` (allowed_networks), ``exchange_online`` (the
        connector's verified certificate; its messages still need the tenant header), or None."""
        if getattr(session, "authenticated", False):
            return "auth"
        if not isinstance(session, GatewaySession):
            return "network" if self.address_allowed(self.peer_ip(session)) else None
        if session.network_allowed is None:
            session.network_allowed = self.address_allowed(self.peer_ip(session))
        if session.network_allowed:
            return "network"
        if self.exchange is None or session.ssl is None:
            return None
        if session.exchange_admitted is None:
            names = certificate_names(session.ssl.get("peercert"))
            session.exchange_admitted = name_matches(self.exchange.certificate_names, names)
            log.info("exchange_online_certificate", peer=self.peer_ip(session), admitted=session.exchange_admitted,
                     presented=bool(names))
        return "exchange_online" if session.exchange_admitted else None

    def address_allowed(self, host: str) -> bool:
        """The client address is in allowed_networks (IPv4-mapped IPv6 addresses count as IPv4)."""
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.networks)

    def admit(self, server: GatewaySMTP, peer: object) -> str | None:
        """The 421 for a new connection over a limit, or None (and the connection is counted).

        Besides the global cap, a client outside allowed_networks may hold only so many connections before
        it authenticates, so one host cannot take every slot with idle connections; the relay's own clients
        (Exchange: one host, many connections) are in allowed_networks and exempt.
        """
        server_settings = self.settings.server
        host = server_settings.hostname
        if self.closing:
            return replies.S421_SHUTTING_DOWN.format(host=host)
        if self.stats.connections >= server_settings.max_connections:
            return replies.S421_TOO_MANY_CONNECTIONS.format(host=host)
        ip = str(peer[0]) if isinstance(peer, tuple) else str(peer or "")
        if self.address_allowed(ip):
            return None
        if self.pre_auth[ip] >= server_settings.max_connections_per_client:
            log.warning("client_connection_limit", peer=ip, limit=server_settings.max_connections_per_client)
            return replies.S421_TOO_MANY_FROM_CLIENT.format(host=host)
        self.pre_auth[ip] += 1
        server.counted_client = ip
        return None

    @staticmethod
    def peer_ip(session: Session | None) -> str:
        peer = session.peer if session is not None else None
        return str(peer[0]) if isinstance(peer, tuple) else str(peer or "")

    def new_collector(self) -> DataCollector:
        server = self.settings.server
        spool = MessageSpool(self.spool_dir, memory_limit=server.spool_threshold, fernet=self.spool_key,
                             key_env=self.spool_key_env)
        return DataCollector(spool, self.budget, normalise=server.bare_line_endings == "normalise",
                             max_headers=server.max_header_count, watch=self.watch_header)

    def end_transaction(self, session: GatewaySession, *, abort: bool) -> None:
        st = session.txn
        if st is None:
            return
        session.txn = None
        self.stats.open_transactions -= 1
        if st.deadline is not None:
            st.deadline.cancel()
        if abort and st.upstream is not None:
            spawn(st.upstream.abort())
        st.runtime.release()

    def _on_deadline(self, server: SMTP) -> None:
        log.warning("transaction_deadline", peer=self.peer_ip(server.session))
        if server.transport is not None:
            text = replies.S421_TIMEOUT.format(host=self.settings.server.hostname)
            server.transport.write((text + "\r\n").encode())  # type: ignore[attr-defined]
            server.transport.close()

    # ------------------------------------------------------------------ hooks

    async def handle_MAIL(
        self, server: SMTP, session: GatewaySession, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.closing:
            return replies.S421_SHUTTING_DOWN.format(host=self.settings.server.hostname)
        # A permanent answer now: the upstream client library would raise on it, and a 451 is retried for days.
        if has_control(address):
            return replies.S501_SENDER_SYNTAX
        if has_control(*mail_options):
            return replies.S501_PARAMETER_SYNTAX
        if not self.budget.room_for(_declared_size(mail_options)):
            log.warning("in_flight_budget_full", declared=_declared_size(mail_options), used=self.budget.used)
            return replies.S451_IN_FLIGHT_FULL
        self.end_transaction(session, abort=True)
        smtp_address = address  # aiosmtpd needs "<>" kept for the null sender
        if address == "<>":
            address = ""
        runtime = self.get_runtime().acquire()
        st = TxnState(
            txn_id=os.urandom(8).hex(),
            runtime=runtime,
            upstream=None,
            env=RelayEnvelope(address, list(mail_options), []),
            started=time.monotonic(),
        )
        session.txn = st
        self.stats.open_transactions += 1
        st.deadline = asyncio.get_running_loop().call_later(
            self.settings.server.transaction_timeout, self._on_deadline, server
        )
        # Clients that may not relay get their 554 at RCPT; don't open an upstream transaction for them.
        admitted = self.admission(session)
        if admitted == "exchange_online":
            st.tenant_check = True
            if isinstance(server, GatewaySMTP):
                server.release_client_slot()  # proven by its certificate, as AUTH would
        if admitted is not None and not self.maildir_upstream:
            try:
                txn = await self.pipeline.upstream.begin()
            except UpstreamError as exc:
                log.warning("upstream_unavailable", txn=st.txn_id, detail=exc.detail)
                self.end_transaction(session, abort=False)
                return replies.S451_UPSTREAM_UNAVAILABLE
            st.upstream = txn
            try:
                reply = await txn.mail(address, mail_options)
            except UpstreamError as exc:
                log.warning("upstream_unavailable", txn=st.txn_id, detail=exc.detail)
                st.upstream = None
                self.end_transaction(session, abort=False)
                return replies.S451_UPSTREAM_UNAVAILABLE
            if not reply.ok:
                self.end_transaction(session, abort=True)
                return (
                    replies.S451_UPSTREAM_TEMPFAIL
                    if reply.temporary
                    else replies.upstream_passthrough(reply.code, reply.message)
                )
        envelope.mail_from = smtp_address
        envelope.mail_options.extend(mail_options)
        return replies.S250_MAIL_OK

    async def handle_RCPT(
        self, server: SMTP, session: GatewaySession, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        st = session.txn
        if st is None:
            return "503 5.5.1 Error: need MAIL command"
        if not self.relay_allowed(session):
            log.info("relay_denied", txn=st.txn_id, peer=self.peer_ip(session))
            return replies.S554_RELAY_DENIED
        if has_control(address):
            return replies.S553_RECIPIENT_SYNTAX
        if has_route(address):  # percent hack, bang path, quoted @: never relayed (detectors.routing)
            log.info("routing_address_refused", txn=st.txn_id)
            return replies.S553_RECIPIENT_ROUTED
        if has_control(*rcpt_options):
            return replies.S501_PARAMETER_SYNTAX
        if len(envelope.rcpt_tos) >= self.settings.server.max_recipients:
            return replies.S452_TOO_MANY_RECIPIENTS
        if st.upstream is not None:
            try:
                reply = await st.upstream.rcpt(address, rcpt_options)
            except UpstreamError as exc:
                log.warning("upstream_unavailable", txn=st.txn_id, detail=exc.detail)
                st.upstream = None
                self.end_transaction(session, abort=False)
                return replies.S451_UPSTREAM_UNAVAILABLE
            if not reply.ok:
                return replies.upstream_passthrough(reply.code, reply.message)
        st.env.rcpts.append((address, list(rcpt_options)))
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.S250_RCPT_OK

    async def handle_RSET(self, server: SMTP, session: GatewaySession, envelope: Envelope) -> str:
        self.end_transaction(session, abort=True)
        return replies.S250_OK

    async def handle_DATA(self, server: SMTP, session: GatewaySession, envelope: Envelope) -> str:
        st = session.txn
        if st is None:
            return "503 5.5.1 Error: need MAIL command"
        if st.deadline is not None:
            st.deadline.cancel()  # the client's part is done; our own work has its own deadline
            st.deadline = None
        self.stats.in_flight += 1
        t0 = time.perf_counter()
        out: Outcome | None = None
        try:
            reply, out = await self._data(server, session, envelope, st)
            return reply
        except Exception as exc:
            log.exception("data_error", txn=st.txn_id, error=exc.__class__.__name__)
            return replies.S451_INTERNAL
        finally:
            self.stats.in_flight -= 1
            self.end_transaction(session, abort=True)
            elapsed = time.perf_counter() - t0
            self._log(st, session, envelope, out, elapsed)

    async def _data(
        self, server: SMTP, session: GatewaySession, envelope: Envelope, st: TxnState
    ) -> tuple[str, Outcome | None]:
        body = session.body
        if body is None:
            raise RuntimeError("DATA without its collector")
        if body.nul:
            return replies.S554_NUL, None
        if body.bare_cr or (body.bare_lf and self.settings.server.bare_line_endings == "reject"):
            return replies.S554_BARE_LINE_ENDING, None
        if body.fields > self.settings.server.max_header_count:
            return replies.S552_TOO_MANY_HEADERS, None
        if body.over_budget:
            log.warning("in_flight_budget_full", txn=st.txn_id, used=self.budget.used)
            return replies.S451_IN_FLIGHT_FULL, None
        if st.tenant_check and not self.tenant_matches(body, st):
            return replies.S554_TENANT_REFUSED, None
        if body.removed:
            log.info("client_dlp_headers_removed", txn=st.txn_id, count=body.removed)
        spool = body.spool
        now = datetime.now(UTC)
        sub = Submission(
            txn_id=st.txn_id,
            peer=self.peer_ip(session),
            helo=session.host_name or "",
            mail_from=st.env.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=b"" if spool.on_disk else spool.in_memory(),
            received_at=now,
            auth_user=session.auth_user,
            source=spool if spool.on_disk else None,
        )
        received = received_line(
            helo=sub.helo,
            peer=sub.peer,
            hostname=self.settings.server.hostname,
            txn_id=st.txn_id,
            tls=session.ssl is not None,
            auth=bool(getattr(session, "authenticated", False)),
            now=now,
        )
        upstream_txn, st.upstream = st.upstream, None  # the pipeline owns it from here
        out = await self.pipeline.process(sub, upstream_txn, st.env, st.runtime, received)
        if self.on_outcome is not None:
            self.on_outcome(out)
        return out.reply, out

    def tenant_matches(self, body: DataCollector, st: TxnState) -> bool:
        """Every copy of the tenant header equals the configured tenant id, and there is at least one: another
        tenant's connector presents the same Microsoft certificate from the same addresses, and Exchange Online
        stamps its own tenant's id (a copy a sender added to claim ours would sit beside it and differ)."""
        values = body.watched_values()
        ok = bool(values) and all(v.lower() == self.tenant_id for v in values)
        if not ok:
            log.warning("exchange_online_tenant_refused", txn=st.txn_id, fields=len(values))
        return ok

    def _log(
        self, st: TxnState, session: GatewaySession, envelope: Envelope, out: Outcome | None, elapsed: float
    ) -> None:
        log.info(
            "transaction",
            txn=st.txn_id,
            peer=self.peer_ip(session),
            size=session.body.spool.size if session.body is not None else 0,
            recipients=len(envelope.rcpt_tos),
            decision=out.decision if out else "refused",
            rules=out.rules if out else [],
            monitor=out.monitor if out else [],
            incident=out.incident if out else "",
            reply=(out.reply[:3] if out else ""),
            error=(out.error if out else ""),
            upstream=(out.upstream[:3] if out and out.upstream else ""),
            seconds=round(elapsed, 4),
            timings={k: round(v, 4) for k, v in (out.timings.items() if out else [])},
        )

    async def handle_exception(self, error: Exception) -> str:
        log.error("smtp_exception", error=error.__class__.__name__, exc_info=error)
        return replies.S451_INTERNAL

    # ------------------------------------------------------------------ AUTH

    def authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if self.users is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        ok = self.users.verify(user, auth_data.password)
        log.info("auth", success=ok, mechanism=mechanism)
        if ok and isinstance(server, GatewaySMTP):
            server.release_client_slot()
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)
