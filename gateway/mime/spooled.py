"""A large message read from its spool file block by block, its big base64 attachments decoded on the way
(issue 13: bounded memory in the scan workers).

``gateway.mime.bigparts`` keeps the parser away from a large attachment's text, but it works on the whole raw
message: a worker that read a 30 MB message from its spool file held those 30 MB and the 22 MB decoded
attachment at once (1.75x the message, before any extraction). Here the same skeleton is built while the
blocks are read: every run of base64 lines of at least ``bigparts.MIN_RUN`` bytes (the same runs
``bigparts.skeleton`` finds) is decoded as it streams past and replaced by its token, so only the skeleton (the
headers, the text parts, the tokens) and the decoded bytes are ever held. The skeleton is parsed and the
decoded bytes given to their parts exactly as ``bigparts.restore`` would have given them.

Whenever the streamed reading cannot be sure it builds what ``bigparts`` would (a run with padding before its
last line, a run that is not whole base64 quads, a token that is not the whole body of a plain attachment), it
returns None and the caller reads the whole message and parses it the ordinary way.
"""

from __future__ import annotations

import binascii
import io
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage

from gateway.mime import bigparts
from gateway.mime.parse import OversizedHeaderDefect, _cap_content_headers, _parse

_LINE_ENDS = b"\r\n"


class _NotStreamable(Exception):
    """The streamed skeleton would differ from ``bigparts.skeleton``'s: read the whole message instead."""


@dataclass
class Skeletal:
    """The message with its large base64 runs taken out: ``data`` holds a token line where each run stood,
    ``payloads`` each token's decoded bytes, ``size`` the bytes read in all."""

    data: bytes
    payloads: dict[str, bytes] = field(default_factory=dict)
    size: int = 0


class _Builder:
    """The state of one read: the skeleton so far and the base64 run being read, if any."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(16)
        self.out = io.BytesIO()
        self.payloads: dict[str, bytes] = {}
        self.size = 0
        self._run = bytearray()  # the run's lines while it is shorter than MIN_RUN (it may stay as it is)
        self._run_len = 0
        self._padded = False  # a line of this run had "=" padding (only its last line may)
        self._bad = False  # padding before the last line: bigparts leaves such a run as it is
        self._decoded: io.BytesIO | None = None  # the run is long enough: decoded as it comes
        self._chars = b""  # base64 characters of the run not yet decoded (fewer than four)
        self._eol = b"\n"

    def feed(self, block: bytes) -> None:
        """One block of whole lines (the last line of the message may lack its newline)."""
        self.size += len(block)
        pos = 0
        for match in bigparts._OTHER_LINE.finditer(block):
            line = match.start()
            if line == len(block):
                break  # the end of the block, not a line: the next block goes on
            if line > pos:
                self._base64(memoryview(block)[pos:line])
            newline = block.find(b"\n", line)
            end = len(block) if newline == -1 else newline + 1
            self._other(memoryview(block)[line:end])
            pos = end
        if pos < len(block):
            self._base64(memoryview(block)[pos:])

    def _other(self, line: memoryview) -> None:
        self._end_run()
        self.out.write(line)

    def _base64(self, view: memoryview) -> None:
        """Whole base64 lines, all of them within one run."""
        lines = bytes(view)
        if self._padded:
            self._bad = True  # a line after a padded one: "=" was not on the run's last line
        equals = lines.find(b"=")
        if equals != -1:
            if equals < lines.rfind(b"\n", 0, len(lines) - 1) + 1:
                self._bad = True  # before the start of the last line
            self._padded = True
        self._eol = b"\r\n" if lines.endswith(b"\r\n") else b"\n"
        self._run_len += len(lines)
        if self._decoded is None:
            self._run += lines
            if self._run_len >= bigparts.MIN_RUN and not self._bad:
                self._decoded = io.BytesIO()
                self._decode(self._run)
                self._run = bytearray()
            return
        if self._bad:
            raise _NotStreamable("padding inside a long base64 run")
        self._decode(lines)

    def _decode(self, lines: bytes | bytearray) -> None:
        assert self._decoded is not None
        chars = self._chars + bytes(lines).translate(None, _LINE_ENDS)
        whole = len(chars) - len(chars) % 4
        self._decoded.write(binascii.a2b_base64(chars[:whole]))
        self._chars = chars[whole:]

    def _end_run(self) -> None:
        if self._run_len == 0:
            return
        if self._decoded is not None:
            if self._bad or self._chars:
                raise _NotStreamable("a long base64 run that is not whole quads")
            token = f"DLPGATEPART{len(self.payloads)}X{self.nonce}"
            self.payloads[token] = self._decoded.getvalue()
            self.out.write(token.encode("ascii") + self._eol)
        else:
            self.out.write(self._run)
        self._run = bytearray()
        self._run_len = 0
        self._padded = self._bad = False
        self._decoded = None
        self._chars = b""

    def finish(self) -> Skeletal:
        self._end_run()
        return Skeletal(self.out.getvalue(), self.payloads, self.size)


def skeleton_from_blocks(blocks: Iterable[bytes]) -> Skeletal | None:
    """The skeleton and decoded runs of the message whose bytes are ``blocks`` (each a run of whole lines, in
    order), or None when the whole message must be read and parsed the ordinary way. A message with no run
    comes back whole in ``data`` with no payloads."""
    builder = _Builder()
    carry = b""
    try:
        for block in blocks:
            if carry:
                block, carry = carry + block, b""
            cut = block.rfind(b"\n") + 1
            if cut < len(block):  # a line split between blocks: keep its start for the next one
                block, carry = block[:cut], block[cut:]
            if block:
                builder.feed(block)
        if carry:
            builder.feed(carry)
        return builder.finish()
    except _NotStreamable:
        return None


def parse_skeletal(sk: Skeletal) -> EmailMessage | None:
    """Parse the skeleton and give each token's part its decoded bytes (``bigparts.restore_decoded``), as
    ``parse.parse_message`` parses a large message; None when the tokens do not stand where they must (the
    caller then parses the whole message)."""
    if not sk.payloads:
        from gateway.mime.parse import parse_message

        return parse_message(sk.data)
    data, capped = _cap_content_headers(sk.data)
    msg = _parse(data)
    if not bigparts.restore_decoded(msg, sk.payloads):
        return None
    if capped:
        msg.defects.append(OversizedHeaderDefect())
    return msg
