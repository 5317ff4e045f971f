"""The next hop: an SMTP server (pooled connections) or a local Maildir.

The relay opens an upstream transaction when its client sends MAIL FROM and passes each RCPT through, so an
upstream refusal reaches the client at RCPT time (Postfix before-queue proxy semantics). ``Reply`` carries the
upstream's code and text so the SMTP layer can map it (4xx → our 451, 5xx passed on).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import socket
import ssl
import time
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib

from gateway.submission import MessageSource
from gateway.tasks import spawn

TEMPFAIL_CONNECT = 421


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    message: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    def __str__(self) -> str:
        return f"{self.code} {self.message}"


class UpstreamError(Exception):
    """The upstream could not be reached or answered out of protocol: always a temporary failure for us."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class DeliveryUncertain(UpstreamError):
    """The connection failed while the message itself was being handed over (during DATA): unlike a failure
    before DATA, the next hop may have it. Callers that must send at most once (a quarantine release) tell the
    two apart; for everyone else it is just an ``UpstreamError``."""


class Transaction(Protocol):
    """One mail transaction with the next hop."""

    async def mail(self, sender: str, options: Sequence[str]) -> Reply: ...
    async def rcpt(self, recipient: str, options: Sequence[str]) -> Reply: ...
    async def data(self, message: bytes) -> Reply: ...
    async def data_from(self, head: bytes, source: MessageSource) -> Reply:
        """DATA: ``head``, then the spooled rest of the message, block by block (never all in memory)."""
        ...
    async def abort(self) -> None: ...


class Upstream(Protocol):
    @property
    def description(self) -> str: ...

    async def begin(self) -> Transaction: ...
    async def probe(self) -> bool: ...
    async def close(self) -> None: ...


# --------------------------------------------------------------------------------------------------- Maildir


@dataclass
class MaildirTransaction:
    path: Path
    hostname: str
    sender: str = ""
    recipients: list[str] = field(default_factory=list)

    async def mail(self, sender: str, options: Sequence[str]) -> Reply:
        self.sender = sender
        return Reply(250, "2.1.0 Ok")

    async def rcpt(self, recipient: str, options: Sequence[str]) -> Reply:
        self.recipients.append(recipient)
        return Reply(250, "2.1.5 Ok")

    async def data(self, message: bytes) -> Reply:
        envelope = (
            f"Return-Path: <{self.sender}>\r\nX-DLP-Envelope-To: {', '.join(self.recipients)}\r\n"
        ).encode("utf-8", "replace")
        name = await asyncio.to_thread(_maildir_write, self.path, self.hostname, (envelope, message))
        return Reply(250, f"2.0.0 Ok: delivered to maildir as {name}")

    async def data_from(self, head: bytes, source: MessageSource) -> Reply:
        envelope = (
            f"Return-Path: <{self.sender}>\r\nX-DLP-Envelope-To: {', '.join(self.recipients)}\r\n"
        ).encode("utf-8", "replace")
        pieces = itertools.chain((envelope, head), source.body_blocks())
        name = await asyncio.to_thread(_maildir_write, self.path, self.hostname, pieces)
        return Reply(250, f"2.0.0 Ok: delivered to maildir as {name}")

    async def abort(self) -> None:
        self.recipients.clear()


_counter = 0


def _maildir_write(root: Path, hostname: str, pieces: Iterable[bytes]) -> str:
    """Deliver the Maildir way: write to tmp/, fsync, rename into new/ (atomic), fsync the folder."""
    global _counter
    _counter += 1
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    now = time.time()
    name = f"{int(now)}.M{int((now % 1) * 1e6)}P{os.getpid()}Q{_counter}.{hostname.replace('/', '_')}"
    tmp = root / "tmp" / name
    with open(tmp, "wb") as fh:
        for piece in pieces:
            fh.write(piece)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, root / "new" / name)
    fd = os.open(root / "new", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return name


@dataclass
class MaildirUpstream:
    path: Path
    hostname: str

    @property
    def description(self) -> str:
        return f"maildir:{self.path}"

    async def begin(self) -> Transaction:
        return MaildirTransaction(self.path, self.hostname)

    async def probe(self) -> bool:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.path, os.W_OK)

    async def close(self) -> None:
        return None


# ------------------------------------------------------------------------------------------------------ SMTP


def _reply_from(resp: aiosmtplib.SMTPResponse) -> Reply:
    return Reply(resp.code, " ".join(resp.message.split()))


def _reply_from_exc(exc: aiosmtplib.SMTPResponseException) -> Reply:
    return Reply(exc.code, " ".join(str(exc.message).split()))


_SIMPLE_ADDRESS = re.compile(r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)?")
"""An address (or the null sender) that aiosmtplib's ``quote_address`` would pass through unchanged (checked
over 200,000 random ones): for these MAIL/RCPT skip its ``email.utils.parseaddr`` round trip, the largest
single cost of the pass-through (issue 17's relay benchmark)."""

_BARE_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")


def _filter_options(options: Sequence[str], client: aiosmtplib.SMTP) -> list[str]:
    """Pass on only the MAIL/RCPT parameters the upstream advertised (SIZE, BODY=8BITMIME, SMTPUTF8)."""
    kept = []
    for opt in options:
        keyword = opt.split("=", 1)[0].upper()
        ext = {"BODY": "8bitmime"}.get(keyword, keyword.lower())
        if client.supports_extension(ext):
            kept.append(opt)
    return kept


@dataclass
class SmtpTransaction:
    pool: SmtpUpstream
    client: aiosmtplib.SMTP
    utf8: bool = False
    broken: bool = False

    async def _call(self, coro_fn: str, *args: object, **kwargs: object) -> Reply:
        try:
            resp = await getattr(self.client, coro_fn)(*args, **kwargs)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code in (421,) or exc.code < 200:
                self.broken = True
            return _reply_from_exc(exc)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            self.broken = True
            raise UpstreamError(f"{self.pool.description}: {exc.__class__.__name__}: {exc}") from exc
        return _reply_from(resp)

    async def _command(self, verb: bytes, address: str, options: list[str]) -> Reply:
        """MAIL FROM / RCPT TO for a plain ASCII address, as aiosmtplib's ``mail``/``rcpt`` would send it (its
        command-injection check included), answered with whatever code the next hop gave."""
        args = [verb + b"<" + address.encode("ascii") + b">", *(o.encode("ascii") for o in options)]
        try:
            resp = await self.client.execute_command(*args)
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ValueError) as exc:
            self.broken = True
            raise UpstreamError(f"{self.pool.description}: {exc.__class__.__name__}: {exc}") from exc
        if resp.code == 421 or resp.code < 200:
            self.broken = True
        return _reply_from(resp)

    async def mail(self, sender: str, options: Sequence[str]) -> Reply:
        opts = _filter_options(options, self.client) if options else []
        self.utf8 = any(o.upper() == "SMTPUTF8" for o in opts)
        if not self.utf8 and _SIMPLE_ADDRESS.fullmatch(sender) and all(o.isascii() for o in opts):
            return await self._command(b"MAIL FROM:", sender, opts)
        return await self._call("mail", sender, options=opts, encoding="utf-8" if self.utf8 else "ascii")

    async def rcpt(self, recipient: str, options: Sequence[str]) -> Reply:
        opts = _filter_options(options, self.client) if options else []
        if not self.utf8 and recipient and _SIMPLE_ADDRESS.fullmatch(recipient) and all(o.isascii() for o in opts):
            return await self._command(b"RCPT TO:", recipient, opts)
        return await self._call("rcpt", recipient, options=opts, encoding="utf-8" if self.utf8 else "ascii")

    async def data(self, message: bytes) -> Reply:
        """DATA with the whole message. What aiosmtplib's ``data`` sends (every line ending CRLF, the message
        ending in one, leading dots doubled, the final dot), without its two regular-expression passes when the
        message has only CRLF line endings, as everything the relay received has (``gateway.smtp.collect``)."""
        return await self._finish_data(_send_data(self.client, message, self.pool.timeout))

    async def data_from(self, head: bytes, source: MessageSource) -> Reply:
        """Like ``data`` for a spooled message. Any failure mid-stream leaves the connection inside DATA, so it
        is closed, never reset and reused."""
        return await self._finish_data(_stream_data(self.client, head, source, self.pool.timeout))

    async def _finish_data(self, sending: Coroutine[Any, Any, aiosmtplib.SMTPResponse]) -> Reply:
        """Await the DATA exchange, then hand the connection back: reusable after a final reply; closed after a
        421, a transport failure or anything unexpected (it may be left inside DATA)."""
        try:
            try:
                resp = await sending
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code in (421,) or exc.code < 200:
                    self.broken = True
                return _reply_from_exc(exc)
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                self.broken = True
                raise UpstreamError(f"{self.pool.description}: {exc.__class__.__name__}: {exc}") from exc
            return _reply_from(resp)
        except BaseException:
            self.broken = True
            raise
        finally:
            await self._release(reset=False)

    async def abort(self) -> None:
        await self._release(reset=True)

    async def _release(self, *, reset: bool) -> None:
        client, self.client = self.client, None  # type: ignore[assignment]
        if client is None:
            return
        if not self.broken and reset:
            try:
                await client.rset()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                self.broken = True
        if self.broken:
            await _quiet_close(client)
        else:
            self.pool.put_back(client)


def _wire_form(message: bytes) -> bytes:
    """The message as DATA carries it, before the final dot: CRLF line endings only (three C-speed counts tell a
    message that already has them; anything else gets aiosmtplib's normalisation), a CRLF at the end, leading
    dots doubled."""
    crlf = message.count(b"\r\n")
    if message.count(b"\n") != crlf or message.count(b"\r") != crlf:
        message = _BARE_LINE_END.sub(b"\r\n", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    return _dot_stuff(message)


async def _send_data(client: aiosmtplib.SMTP, message: bytes, reply_wait: float) -> aiosmtplib.SMTPResponse:
    """DATA, 354, the message and the final dot in one write, 250: aiosmtplib's ``execute_data_command`` on its
    protocol (command lock, ``read_response``), with the wire form made by ``_wire_form``."""
    proto = client.protocol
    lock = getattr(proto, "_command_lock", None)
    if proto is None or lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    payload = _wire_form(message) + b".\r\n"
    try:
        async with lock:
            proto._response_pending = True
            proto.write(b"DATA\r\n")
            start = await proto.read_response(timeout=reply_wait)
            if start.code != 354:
                raise aiosmtplib.SMTPDataError(start.code, start.message)
            proto._response_pending = True
            proto.write(payload)
            response = await proto.read_response(timeout=reply_wait)
            if response.code != 250:
                raise aiosmtplib.SMTPDataError(response.code, response.message)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError):
        client.close()
        raise
    return response


def _dot_stuff(block: bytes) -> bytes:
    """RFC 5321 4.5.2 for a block of whole CRLF lines: a line that starts with a dot gets another one."""
    stuffed = block.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


async def _stream_data(
    client: aiosmtplib.SMTP, head: bytes, source: MessageSource, reply_wait: float
) -> aiosmtplib.SMTPResponse:
    """DATA written block by block, dot-stuffed per block, waiting for the socket to drain after each, where
    aiosmtplib's ``data()`` needs the whole message as one bytes object and copies it three times (line
    endings, dot-stuffing, the final dot). Uses aiosmtplib's protocol (its command lock, ``read_response``
    and flow control); ``tests/integration/test_memory.py`` relays through it byte for byte."""
    proto = client.protocol
    lock = getattr(proto, "_command_lock", None)
    if proto is None or lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    blocks: Iterator[bytes] = source.body_blocks()
    try:
        async with lock:
            proto._response_pending = True
            proto.write(b"DATA\r\n")
            start = await proto.read_response(timeout=reply_wait)
            if start.code != 354:
                raise aiosmtplib.SMTPDataError(start.code, start.message)
            proto._response_pending = True
            block: bytes | None = head
            while block is not None:
                if block:
                    proto.write(_dot_stuff(block))
                    await asyncio.wait_for(proto._drain_helper(), reply_wait)
                block = await asyncio.to_thread(next, blocks, None)
            proto.write(b".\r\n")
            response = await proto.read_response(timeout=reply_wait)
            if response.code != 250:
                raise aiosmtplib.SMTPDataError(response.code, response.message)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError):
        client.close()
        raise
    finally:
        if hasattr(blocks, "close"):
            blocks.close()
    return response


async def _quiet_close(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        if client.is_connected:
            await asyncio.wait_for(client.quit(), 2)
    with contextlib.suppress(Exception):
        client.close()


@dataclass
class SmtpUpstream:
    host: str
    port: int
    local_hostname: str
    timeout: float
    tls: str = "none"
    """``none``, ``starttls`` or ``implicit``."""
    verify: bool = True
    max_idle: int = 256
    idle_seconds: float = 30.0
    _idle: list[tuple[float, aiosmtplib.SMTP]] = field(default_factory=list)

    @property
    def description(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            local_hostname=self.local_hostname,
            timeout=self.timeout,
            use_tls=self.tls == "implicit",
            start_tls=self.tls == "starttls",
            validate_certs=self.verify,
            tls_context=self._tls_context() if self.tls != "none" else None,
        )
        try:
            await client.connect()
            if not client.last_ehlo_response:
                await client.ehlo()
        except aiosmtplib.SMTPResponseException as exc:
            await _quiet_close(client)
            raise UpstreamError(f"{self.description}: greeting {exc.code}") from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            await _quiet_close(client)
            raise UpstreamError(f"{self.description}: {exc.__class__.__name__}: {exc}") from exc
        return client

    async def begin(self) -> Transaction:
        now = time.monotonic()
        while self._idle:
            since, client = self._idle.pop()
            if client.is_connected and now - since < self.idle_seconds:
                return SmtpTransaction(self, client)
            await _quiet_close(client)
        return SmtpTransaction(self, await self._connect())

    def put_back(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self.max_idle and client.is_connected:
            self._idle.append((time.monotonic(), client))
        else:
            spawn(_quiet_close(client))

    async def probe(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=min(self.timeout, 3)):
                return True
        except OSError:
            return False

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quiet_close(c) for _, c in idle), return_exceptions=True)


def make_upstream(url: str, *, local_hostname: str, timeout: float, verify: bool = True) -> Upstream:
    """Build the upstream for a URL already validated by the config (``smtp://``, ``smtp+starttls://``,
    ``smtps://``, ``maildir:PATH``)."""
    if url.startswith("maildir:"):
        return MaildirUpstream(Path(url[len("maildir:") :]).expanduser().resolve(), local_hostname)
    scheme, _, rest = url.partition("://")
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    tls = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "implicit"}[scheme]
    return SmtpUpstream(host, int(port), local_hostname, timeout, tls=tls, verify=verify)


async def open_transaction(
    upstream: Upstream,
    mail_from: str,
    rcpts: Sequence[tuple[str, Sequence[str]]],
    *,
    mail_options: Sequence[str] = (),
) -> Transaction | Reply:
    """Open MAIL and every RCPT with the next hop: the transaction, ready for DATA, or the first refusal (the
    transaction is then already aborted). Every sender of mail goes through here (the relay's replay to a
    Maildir or the encryption smarthost, releases, digests, alerts, notices), so a refused recipient is
    handled one way: the whole message is refused, never sent to some recipients only."""
    txn = await upstream.begin()
    try:
        reply = await txn.mail(mail_from, mail_options)
        if not reply.ok:
            await txn.abort()
            return reply
        for rcpt, options in rcpts:
            reply = await txn.rcpt(rcpt, options)
            if not reply.ok:
                await txn.abort()
                return reply
    except BaseException:
        await txn.abort()
        raise
    return txn


async def deliver(upstream: Upstream, mail_from: str, rcpt_tos: Sequence[str], data: bytes) -> Reply:
    """Send one whole message (release from quarantine, digests, alerts, notices).

    Returns the final reply; a refused recipient makes the whole delivery fail (the caller retries or
    reports), so "delivered" always means every recipient was accepted. A connection lost during DATA raises
    ``DeliveryUncertain``; one lost before it, a plain ``UpstreamError`` (certainly not delivered).
    """
    opened = await open_transaction(upstream, mail_from, [(rcpt, ()) for rcpt in rcpt_tos])
    if isinstance(opened, Reply):
        return opened
    try:
        return await opened.data(data)
    except UpstreamError as exc:
        await opened.abort()
        raise DeliveryUncertain(exc.detail) from exc
    except BaseException:
        await opened.abort()
        raise
