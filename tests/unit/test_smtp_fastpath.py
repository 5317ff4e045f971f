"""The relay's fast paths (issue 17's performance work) give exactly what the general code gives: MAIL/RCPT
address parsing against aiosmtpd's own ``_getaddr``, and the DATA wire form against aiosmtplib's."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from aiosmtpd.smtp import SMTP
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from gateway.smtp.handler import GatewaySMTP
from gateway.smtp.sanitize import _SIMPLE_PATH
from gateway.upstream import _wire_form

ALPHA = "abcXYZ019!#$%&'*+/=?^_`{|}~.-"


def _random_arg(rng: random.Random) -> str:
    local = "".join(rng.choice(ALPHA) for _ in range(rng.randint(0, 8)))
    domain = "".join(rng.choice("ab.-1[]") for _ in range(rng.randint(0, 6)))
    atoms = ".".join("".join(rng.choice(ALPHA.replace(".", "")) for _ in range(rng.randint(1, 4)))
                     for _ in range(rng.randint(1, 3)))
    labels = ".".join("".join(rng.choice("ab-1") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 3)))
    addr = rng.choice([f"<{local}@{domain}>", f"{local}@{domain}", f" <{local}@{domain}>", f"<{local}>", "<>",
                       f'<"{local}"@{domain}>', f"<{local}@{domain}", f"<{atoms}@{labels}>", f"<{atoms}@{labels}>"])
    return addr + rng.choice(["", " SIZE=123", "  BODY=8BITMIME SMTPUTF8", " x", " (comment) SIZE=1", "\tx"])


def _outcome(fn: Callable[[SMTP, str], object], obj: SMTP, arg: str) -> object:
    """The result, or the exception's type: the stdlib parser raises on some inputs, the same for both."""
    try:
        return fn(obj, arg)
    except Exception as exc:
        return type(exc)


def test_getaddr_matches_aiosmtpd() -> None:
    """For 8,000 random MAIL/RCPT arguments (plain, quoted, dotted oddly, unbalanced), the override returns
    what aiosmtpd's parser returns, including the local-part limit."""
    rng = random.Random(17)
    loop = asyncio.new_event_loop()
    try:
        ours = GatewaySMTP.__new__(GatewaySMTP)
        stock = SMTP.__new__(SMTP)
        for obj in (ours, stock):
            obj.local_part_limit = 6
        fast = 0
        for _ in range(8_000):
            arg = _random_arg(rng)
            assert _outcome(GatewaySMTP._getaddr, ours, arg) == _outcome(SMTP._getaddr, stock, arg), arg
            fast += _SIMPLE_PATH.match(arg) is not None
        assert fast > 1500  # the fast path itself was exercised
    finally:
        loop.close()


@pytest.mark.parametrize("message", [
    b"a: b\r\n\r\nbody\r\n.dot\r\n..two\r\n",
    b".first\r\nline",
    b"bare\nlf\rcr\r\n.\n.x",
    b"",
    b"\r\n.\r\n",
])
def test_wire_form_matches_aiosmtplib(message: bytes) -> None:
    """CRLF-only messages skip the regular expressions; anything else is normalised as aiosmtplib does."""
    assert _wire_form(message) == PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message))


def test_received_date_is_formatted_as_before() -> None:
    """The per-second cache of the Received field's date gives format_datetime's text, across a second's edge
    and another time zone."""
    from datetime import UTC, datetime, timedelta, timezone
    from email.utils import format_datetime

    from gateway.smtp.sanitize import _date

    t = datetime(2026, 1, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    for d in (t, t + timedelta(microseconds=1), t.astimezone(timezone(timedelta(hours=1))), t, t + timedelta(0, 5)):
        assert _date(d) == format_datetime(d)
