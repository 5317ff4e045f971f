"""DATA line by line: the checks of ``gateway.smtp.sanitize`` made as each line arrives, the lines kept in a
``MessageSpool`` instead of a list joined at the end, and the bytes counted against the in-flight budget.

The outcome is the same as running the whole-message functions over the joined bytes (NUL, bare CR and bare
LF found, bare LF normalised when configured, client ``X-DLP-*`` fields dropped with their continuation
lines, header fields counted, one chosen header field's values kept) without ever holding the message twice.
Once a message is sure to be refused (a NUL, a bare CR, a bare LF in ``reject`` mode, too many header fields,
over the budget) nothing more is kept; the checks go on so the reply is the one the whole-message check would
give.

Bare LF (issue 17): ``normalise`` (the default, as Postfix 3.9 and later) takes a bare LF as a line end and
keeps CRLF only, so the spool, the scanner and the next hop see ordinary lines; a ``.`` line that came from
``\n.\n`` is then an ordinary content line the next hop's client dot-stuffs, never an end of data. A bare CR
has no such reading (old Macs aside, nothing sends it but a smuggling attempt) and is always refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.message_spool import MessageSpool
from gateway.smtp.sanitize import field_name


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
    def __init__(self, spool: MessageSpool, budget: Budget, *, normalise: bool, max_headers: int,
                 watch: bytes | None = None) -> None:
        self.spool = spool
        self.budget = budget
        self.normalise = normalise
        self.max_headers = max_headers
        self.watch = watch.lower() if watch else None
        """A header field name (any case) whose fields are kept in ``watched`` (the Exchange Online tenant
        header), so the SMTP layer can judge it without parsing the message again."""
        self.watched: list[bytes] = []
        self.nul = False
        self.bare_cr = False
        self.bare_lf = False
        self.over_budget = False
        self.fields = 0
        self.removed = 0
        self._in_header = True
        self._dropping = False
        self._watching = False
        self._reserved = 0
        self._closed = False

    @property
    def bare(self) -> bool:
        """Any bare line ending (CR or LF) was seen."""
        return self.bare_cr or self.bare_lf

    @property
    def doomed(self) -> bool:
        """The message will be refused whatever follows: keep nothing more."""
        return (
            self.nul
            or self.bare_cr
            or (self.bare_lf and not self.normalise)
            or self.fields > self.max_headers
            or self.over_budget
        )

    def feed(self, line: bytes) -> None:
        """One DATA line as received, ending in CRLF, still dot-stuffed."""
        if line[:1] == b".":
            line = line[1:]
        if b"\x00" in line:
            self.nul = True
        content = line[:-2]
        if b"\r" in content:
            self.bare_cr = True
        if b"\n" in content:
            self.bare_lf = True
            if self.normalise and not self.doomed:
                first, *rest = content.split(b"\n")
                self._line(first + b"\r\n")
                for part in rest:
                    # A line begun after a bare LF is a line to the client too (smtplib dot-stuffs it): remove the
                    # stuffed dot (RFC 5321 4.5.2); a lone "." stays content, never an end of data.
                    self._line((part[1:] if part[:1] == b"." and len(part) > 1 else part) + b"\r\n")
                return
        self._line(line)

    def _line(self, line: bytes) -> None:
        if self._in_header:
            if line == b"\r\n":
                self._in_header = False
            else:
                if line[:1] not in (b" ", b"\t") or not self.fields:
                    self.fields += 1
                    name = field_name(line)
                    self._dropping = name.startswith(b"x-dlp-")
                    self.removed += self._dropping
                    self._watching = name == self.watch
                    if self._watching:
                        self.watched.append(line)
                elif self._watching:
                    self.watched[-1] += line
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

    def watched_values(self) -> list[str]:
        """The values of the watched header field, unfolded and stripped, in message order."""
        out = []
        for raw in self.watched:
            _, _, value = raw.partition(b":")
            out.append(b" ".join(value.split()).decode("ascii", "replace"))
        return out

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
