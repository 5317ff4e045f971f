"""Turns one message into ``ScanResult`` facts: parse, extract, detect, classify.

``Scanner`` is built once per worker process (models, compiled patterns, lists) and its ``scan`` is a plain
synchronous function, so the same code serves the worker pool behind ``dlpgate serve`` and the ``scan`` CLI.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from detectors.content import ContentDetector, DetectionContext
from detectors.encryption import encryption_state
from detectors.forwarding import forwarding_evidence
from detectors.marking import protective_marking
from detectors.recipients import RecipientClassifier
from detectors.sensitivity import assess_sensitivity, distinct_case_numbers
from gateway.config import Config
from gateway.facts import RecipientInfo, ScanResult
from gateway.mime.extract import extract
from gateway.mime.model import Extraction, Unscannable
from gateway.mime.parse import parse_message


def parse_headers(raw: bytes) -> EmailMessage:
    """Headers only (no body parsing), for messages too large in parts to parse in full."""
    msg = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    assert isinstance(msg, EmailMessage)
    return msg


def _header_pairs(msg: EmailMessage) -> tuple[tuple[str, str], ...]:
    pairs = []
    for name, value in msg.raw_items():
        try:
            pairs.append((name, str(value)))
        except Exception:
            pairs.append((name, ""))
    return tuple(pairs)


def _sender_name(msg: EmailMessage) -> str:
    try:
        return parseaddr(str(msg.get("From", "")))[0]
    except Exception:
        return ""


def header_addresses(msg: EmailMessage, *names: str) -> list[str]:
    """Addresses in the named header fields; a field too malformed to read yields none."""
    values: list[str] = []
    for name in names:
        for v in msg.get_all(name, []) or []:
            try:
                values.append(str(v))
            except Exception:  # noqa: S112 - skip the unreadable field, keep the rest
                continue
    return [addr for _, addr in getaddresses(values) if "@" in addr]


@dataclass
class Scanner:
    cfg: Config
    content: ContentDetector
    recipients: RecipientClassifier

    @classmethod
    def from_config(cls, cfg: Config) -> Scanner:
        return cls(
            cfg=cfg,
            content=ContentDetector.from_config(cfg),
            recipients=RecipientClassifier.from_config(cfg),
        )

    def scan(
        self,
        raw: bytes,
        mail_from: str,
        rcpt_tos: Sequence[str],
        *,
        reveal: bool = False,
    ) -> ScanResult:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        limits = self.cfg.gateway.extraction
        if raw.count(b"\n--") > 2 * limits.max_parts:
            # The stdlib parser spends ~250 us per MIME part before any limit of ours applies; a message with
            # tens of thousands of boundaries is judged on its headers alone, as unscannable.
            msg = parse_headers(raw)
            extraction = Extraction(unscannable=(
                Unscannable("message", "limit", f"more than {limits.max_parts} MIME parts"),))
        else:
            msg = parse_message(raw)
            extraction = extract(msg, limits)
        t1 = time.perf_counter()
        timings["extract"] = t1 - t0

        sender_name = _sender_name(msg)
        recipients: tuple[RecipientInfo, ...] = self.recipients.classify(mail_from, sender_name, rcpt_tos)
        external = [r for r in recipients if r.cls != "internal"]
        visible = header_addresses(msg, "To", "Cc")
        visible_external = sum(1 for a in visible if not self.recipients.is_internal(a))

        ctx = DetectionContext(
            sender_address=mail_from,
            sender_name=sender_name,
            run_ner=bool(external),
            reveal=reveal,
        )
        findings = tuple(self.content.analyze(extraction.chunks, ctx))
        t2 = time.perf_counter()
        timings["detect"] = t2 - t1

        fwd = forwarding_evidence(msg)
        enc = encryption_state(msg, self.cfg.policy)
        return ScanResult(
            sender=mail_from,
            recipients=recipients,
            findings=findings,
            sensitivity=assess_sensitivity(findings),
            distinct_case_numbers=distinct_case_numbers(findings),
            protective_marking=protective_marking(findings, msg, self.cfg.policy),
            unscannable=extraction.unscannable,
            not_text_scanned=extraction.not_text_scanned,
            attachments=extraction.attachments,
            forwarded=fwd.forwarded,
            forwarding_evidence=fwd.evidence,
            auto_reply=fwd.auto_reply,
            encrypted=enc.encrypted,
            encryption_evidence=enc.evidence,
            subject_trigger=enc.subject_trigger,
            visible_external=visible_external,
            headers=_header_pairs(msg),
            size=len(raw),
            message_id=(str(msg.get("Message-ID", "")).strip() or None),
            defects=extraction.defects,
            ner_skipped=not ctx.run_ner,
            timings=timings,
        )
