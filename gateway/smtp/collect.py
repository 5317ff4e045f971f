"""DATA line by line: the checks of ``gateway.smtp.sanitize`` made as each line arrives, the lines kept in a
``MessageSpool`` instead of a list joined at the end, and the bytes counted against the in-flight budget.

The outcome is the same as running the whole-message functions over the joined bytes (NUL and bare CR/LF
found, bare endings normalised when configured, client ``X-DLP-*`` fields dropped with their continuation
lines, header fields counted) without ever holding the message twice. Once a message is sure to be refused
(a NUL, a bare line ending in ``reject`` mode, too many header fields, over the budget) nothing more is kept;
the checks go on so the reply is the one the whole-message check would give.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.message_spool import MessageSpool
from gateway.smtp.sanitize import dlp_field_name, normalise_line_endings


@dataclass
class Budget:
    """Bytes of all messages in flight (being received or processed), bounded by ``server.max_in_flight_bytes``
    so a burst of large messages is answered 451 4.3.1 instead of exhausting memory and disk."""

    limit: int
    used: int = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used = max(0, self.used - n)

    def room_for(self, n: int) -> bool:
        return self.used + n <= self.limit


class DataCollector:
    def __init__(self, spool: MessageSpool, budget: Budget, *, normalise: bool, max_headers: int) -> None:
        self.spool = spool
        self.budget = budget
        self.normalise = normalise
        self.max_headers = max_headers
        self.nul = False
        self.bare = False
        self.over_budget = False
        self.fields = 0
        self.removed = 0
        self._in_header = True
        self._dropping = False
        self._reserved = 0
        self._closed = False

    @property
    def doomed(self) -> bool:
        """The message will be refused whatever follows: keep nothing more."""
        return (
            self.nul
            or (self.bare and not self.normalise)
            or self.fields > self.max_headers
            or self.over_budget
        )

    def feed(self, line: bytes) -> None:
        """One DATA line as received, ending in CRLF, still dot-stuffed."""
        if line.startswith(b"."):
            line = line[1:]
        if b"\x00" in line:
            self.nul = True
        content = line[:-2]
        if b"\r" in content or b"\n" in content:
            self.bare = True
            if self.normalise and not self.doomed:
                for part in normalise_line_endings(line).splitlines(keepends=True):
                    self._line(part)
                return
        self._line(line)

    def _line(self, line: bytes) -> None:
        if self._in_header:
            if line == b"\r\n":
                self._in_header = False
            else:
                if line[:1] not in (b" ", b"\t") or not self.fields:
                    self.fields += 1
                    self._dropping = dlp_field_name(line)
                    self.removed += self._dropping
                if self._dropping:
                    return
        if self.doomed:
            return
        if not self.budget.take(len(line)):
            self.over_budget = True
            self.spool.discard()
            return
        self._reserved += len(line)
        if self._in_header:
            self.spool.write_head(line)
        else:
            self.spool.write(line)
        if self.doomed:
            self.spool.discard()

    def discard(self) -> None:
        """The DATA will be refused by the SMTP layer (too long a line, too much data)."""
        self.spool.discard()

    def finish(self) -> None:
        if self.doomed:
            self.spool.discard()
        else:
            self.spool.finish()

    def close(self) -> None:
        """The transaction is over: give the bytes back to the budget and remove the spool file."""
        if self._closed:
            return
        self._closed = True
        self.budget.give(self._reserved)
        self._reserved = 0
        self.spool.close()
