"""Every SMTP reply dlpgate itself composes, in one place, with enhanced status codes (RFC 3463).

Greeting, STARTTLS-required, SIZE and syntax replies are aiosmtpd's own.

Internal details never appear here: a stranger sees a generic text, the log gets the detail.
"""

from __future__ import annotations

from gateway.oneline import one_line

S250_OK = "250 2.0.0 Ok"
S250_RELAYED = "250 2.0.0 Ok: relayed ({upstream})"
S250_QUARANTINED = "250 2.0.0 Ok: message held for review under reference {ref}"
S250_MAIL_OK = "250 2.1.0 Sender ok"
S250_RCPT_OK = "250 2.1.5 Recipient ok"

S421_TOO_MANY_CONNECTIONS = "421 4.7.0 {host} Too many connections, try again later"
S421_TOO_MANY_FROM_CLIENT = "421 4.7.0 {host} Too many connections from your address, try again later"
S421_SHUTTING_DOWN = "421 4.3.2 {host} Service shutting down, try again later"
S421_TIMEOUT = "421 4.4.2 {host} Transaction took too long, closing connection"
S451_INTERNAL = "451 4.3.0 Temporary internal error, please try again later"
S451_IN_FLIGHT_FULL = "451 4.3.1 Gateway has too much mail in flight, please try again later"
S451_BUSY = "451 4.3.2 Gateway busy, please try again later"
S451_SCAN_TIMEOUT = "451 4.3.0 Message could not be checked in time, please try again later"
S451_UPSTREAM_UNAVAILABLE = "451 4.4.1 Next hop unavailable, please try again later"
S451_UPSTREAM_TEMPFAIL = "451 4.4.0 Next hop temporarily refused the message, please try again later"
S452_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"

S501_SENDER_SYNTAX = "501 5.5.4 Invalid character in sender address"
S501_PARAMETER_SYNTAX = "501 5.5.4 Invalid character in command parameters"
S553_RECIPIENT_SYNTAX = "553 5.1.3 Invalid character in recipient address"
S553_RECIPIENT_ROUTED = (
    "553 5.1.3 Routing addresses are not accepted: the recipient's local part must not contain %, ! or a quoted @"
)
S552_TOO_MANY_HEADERS = "552 5.3.4 Message has too many header fields"
S554_RELAY_DENIED = "554 5.7.1 Relay access denied"
S554_TENANT_REFUSED = "554 5.7.1 Relay access denied: message is not from the admitted Exchange Online tenant"
S554_BARE_LINE_ENDING = (
    "554 5.6.0 Message refused: bare CR or LF line ending (only CRLF is allowed; SMTP smuggling protection)"
)
S554_NUL = "554 5.6.0 Message refused: NUL character in message data"


def upstream_passthrough(code: int, text: str) -> str:
    """Pass a permanent upstream refusal on verbatim (a 451 instead makes Exchange retry for two days)."""
    clean = one_line(text, 400)
    return f"{code} {clean}" if clean else f"{code} 5.0.0 Refused by next hop"


def policy_reply(lines: list[str]) -> str:
    """A multi-line 550 carrying the policy text the sender must see (aiosmtpd sends CRLF-joined lines)."""
    clean = [one_line(line, 400) for line in lines if line.strip()]
    if not clean:
        clean = ["Message refused by data-loss-prevention policy"]
    return "\r\n".join(
        f"550-5.7.1 {line}" if i < len(clean) - 1 else f"550 5.7.1 {line}" for i, line in enumerate(clean)
    )
