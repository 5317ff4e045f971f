"""Was this message forwarded by a rule rather than written by a person? (IT Policy 2.7(n))

Auto-forwarding to a personal account moves every future message out of the organisation without anyone
looking at it, so the policy treats it apart from a person pressing Forward. Exchange, Outlook rules, Gmail
and RFC 5322 redirects each leave their own marks; any one is evidence. Out-of-office and other automatic
replies carry some of the same Exchange rule marks but are not forwards: a reply goes back to whoever wrote,
so they are reported as ``auto_reply`` and the rule-agent marks alone do not make them a forward.

Evidence is header *names* only: values can contain addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from detectors.headerutil import header_names, header_values


@dataclass(frozen=True, slots=True)
class ForwardingEvidence:
    forwarded: bool
    auto_reply: bool
    evidence: tuple[str, ...]


# Marks that only a forward or redirect leaves.
_FORWARD_ONLY = ("x-forwarded-to", "x-forwarded-for", "x-ms-exchange-forwardingloop")
# Marks that any inbox rule leaves (forward, redirect, or a rule that replies with a template).
_RULE_MARKS = ("x-ms-exchange-inbox-rules-loop",)
_REPLY_MARKS = ("x-autoreply", "x-autorespond")


def _has_value(msg: EmailMessage, name: str, *wanted: str) -> bool:
    return any(v.strip().lower() in wanted for v in header_values(msg, name))


def forwarding_evidence(msg: EmailMessage) -> ForwardingEvidence:
    names = header_names(msg)
    present = set(names)
    forward: list[str] = []
    rule: list[str] = []
    reply: list[str] = []

    auto_submitted = [v.split(";", 1)[0].strip().lower() for v in header_values(msg, "Auto-Submitted")]
    if "auto-forwarded" in auto_submitted:
        forward.append("Auto-Submitted: auto-forwarded")
    if "auto-replied" in auto_submitted:
        reply.append("Auto-Submitted: auto-replied")
    if _has_value(msg, "X-MS-Exchange-Organization-AutoForwarded", "true"):
        forward.append("X-MS-Exchange-Organization-AutoForwarded")
    for name in sorted({n for n in present if n.startswith("resent-")}):
        forward.append(_canonical(name))
    for name in _FORWARD_ONLY:
        if name in present:
            forward.append(_canonical(name))

    for name in _RULE_MARKS:
        if name in present:
            rule.append(_canonical(name))
    if any("mailbox rules agent" in v.lower() for v in header_values(msg, "X-MS-Exchange-Generated-Message-Source")):
        rule.append("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent")

    strong_reply = list(reply)
    for name in _REPLY_MARKS:
        if name in present:
            strong_reply.append(_canonical(name))
    if _has_value(msg, "Precedence", "auto_reply"):
        strong_reply.append("Precedence: auto_reply")
    weak_reply = ["X-Auto-Response-Suppress"] if "x-auto-response-suppress" in present else []

    # Rule-agent marks mean "forward" unless the message says explicitly that it is an automatic reply:
    # X-Auto-Response-Suppress alone also appears on other Exchange mail, so it cannot clear a forward.
    forwarded = bool(forward) or (bool(rule) and not strong_reply)
    auto_reply = bool(strong_reply or weak_reply) and not forwarded
    evidence = tuple(forward + rule if forwarded else strong_reply + weak_reply if auto_reply else [])
    return ForwardingEvidence(forwarded=forwarded, auto_reply=auto_reply, evidence=evidence)


_CANONICAL = {
    "x-forwarded-to": "X-Forwarded-To",
    "x-forwarded-for": "X-Forwarded-For",
    "x-ms-exchange-forwardingloop": "X-MS-Exchange-ForwardingLoop",
    "x-ms-exchange-inbox-rules-loop": "X-MS-Exchange-Inbox-Rules-Loop",
    "x-autoreply": "X-Autoreply",
    "x-autorespond": "X-Autorespond",
}


def _canonical(name: str) -> str:
    return _CANONICAL.get(name, "-".join(p.capitalize() for p in name.split("-")))
