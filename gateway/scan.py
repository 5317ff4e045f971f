"""Turns one message into ``ScanResult`` facts: parse, extract, detect, classify.

``Scanner`` is built once per worker process (models, compiled patterns, lists) and its ``scan`` is a plain
synchronous function, so the same code serves the worker pool behind ``dlpgate serve`` and the ``scan`` CLI.

``detectors`` is a library that knows nothing of the gateway's configuration: the builders here hand it values
(the detectors settings and the resolved path of their file, the organisation's domains, the recipient lists,
the lookalike, marking and encryption settings from the policy).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from pathlib import Path

import structlog

from detectors.cases import CaseMatch, CaseMatcher, CaseSnapshot
from detectors.content import ContentDetector, DetectionContext
from detectors.encryption import EncryptionRules, encryption_state
from detectors.findings import RecipientInfo
from detectors.forwarding import forwarding_evidence
from detectors.lookalike import LookalikeParams
from detectors.marking import MarkingRules, protective_marking
from detectors.recipients import RecipientClassifier, RecipientLists
from detectors.sensitivity import assess_sensitivity, distinct_case_numbers
from gateway.config import Config, optional_case_key
from gateway.facts import ScanResult
from gateway.message_spool import SpoolRef
from gateway.mime.extract import extract
from gateway.mime.model import Extraction, Unscannable
from gateway.mime.parse import header_addresses, parse_message
from gateway.mime.spooled import parse_skeletal, skeleton_from_blocks
from gateway.policy.config import PolicyConfig

log = structlog.get_logger("dlpgate.scan")


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


_MAX_ADDRESS_FIELD = 8192
"""Longer To/Cc/Bcc values are not parsed for display names (the parser is super-linear)."""


def recipient_names(msg: EmailMessage, rcpt_tos: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Each envelope recipient with the display name the To/Cc/Bcc fields give its address ("" when none):
    content detection exempts a display name only as far as it spells that recipient's own mailbox."""
    values: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        for v in msg.get_all(name, []) or []:
            try:
                text = str(v)
            except Exception:  # noqa: S112 - an unreadable field gives no names, the rest still count
                continue
            if len(text) <= _MAX_ADDRESS_FIELD:
                values.append(text)
    shown: dict[str, str] = {}
    try:
        for display, addr in getaddresses(values):
            if display.strip():
                shown.setdefault(addr.strip().lower(), display)
    except Exception:  # noqa: S110 - malformed fields: the recipients keep their addresses only
        pass
    return tuple((r, shown.get(r.strip().strip("<>").lower(), "")) for r in rcpt_tos)


def content_detector(cfg: Config) -> ContentDetector:
    """The content detector for ``cfg``: loads the Presidio engine and the spaCy model (once per worker)."""
    return ContentDetector.build(
        cfg.detectors, cfg.resolve(cfg.gateway.files.detectors), org_domains=cfg.gateway.organisation.domains
    )


def recipient_classifier(organisation_domains: Sequence[str], policy_config: PolicyConfig) -> RecipientClassifier:
    """The recipient classifier for the organisation's domains and the policy's lists and lookalike settings."""
    lists = policy_config.lists
    s = policy_config.recipients.lookalike
    lookalike = (
        LookalikeParams(
            max_edit_distance=s.max_edit_distance,
            long_name_length=s.long_name_length,
            long_name_max_edit_distance=s.long_name_max_edit_distance,
            min_name_length=s.min_name_length,
            name_elsewhere=s.name_elsewhere,
        )
        if s.enabled
        else None
    )
    return RecipientClassifier.build(
        organisation_domains,
        RecipientLists(
            freemail=lists.freemail,
            storage_or_ai=lists.storage_or_ai,
            partner_domains=lists.partner_domains,
            personal_directory=lists.personal_directory,
        ),
        lookalike,
    )


def marking_rules(policy_config: PolicyConfig) -> MarkingRules:
    """The policy's protective-marking settings and marking labels, as ``detectors.marking`` takes them."""
    m = policy_config.protective_marking
    labels = policy_config.sensitivity_labels
    return MarkingRules(
        patterns=tuple(m.patterns),
        first_lines=m.first_lines,
        first_chars=m.first_chars,
        max_other_words=m.max_other_words,
        label_headers=tuple(labels.headers),
        marking_labels=tuple(labels.marking_labels),
    )


def encryption_rules(policy_config: PolicyConfig) -> EncryptionRules:
    """The policy's subject triggers and encrypting labels, as ``detectors.encryption`` takes them."""
    labels = policy_config.sensitivity_labels
    return EncryptionRules(
        triggers=tuple(policy_config.encrypt.triggers),
        label_headers=tuple(labels.headers),
        encrypting_labels=tuple(labels.encrypting_labels),
    )


def case_matcher(cfg: Config, snapshot: Path | None) -> CaseMatcher | None:
    """The case directory matcher for a worker: the snapshot file its generation was given and the key from the
    configuration. No snapshot, no key or another key: None, and the case conditions never hold (logged once per
    worker, without any case data)."""
    if snapshot is None:
        return None
    key = optional_case_key(cfg)
    if key is None:
        log.warning("cases.no_key", hint="set the cases.key_env environment variable or cases.key_file")
        return None
    try:
        return CaseMatcher(CaseSnapshot.load(snapshot), key)
    except (OSError, ValueError, KeyError) as exc:
        log.error("cases.snapshot_unusable", error=exc.__class__.__name__, detail=str(exc)[:200])
        return None


def _part_flood(max_parts: int) -> Extraction:
    return Extraction(unscannable=(Unscannable("message", "limit", f"more than {max_parts} MIME parts"),))


@dataclass
class Scanner:
    cfg: Config
    content: ContentDetector
    recipients: RecipientClassifier
    marking: MarkingRules
    encryption: EncryptionRules
    cases: CaseMatcher | None = None
    """The case directory of this configuration generation (a hashed snapshot), or None."""

    @classmethod
    def from_config(cls, cfg: Config, *, cases: CaseMatcher | None = None) -> Scanner:
        """Everything built once: the detectors receive values taken from ``cfg``, never ``cfg`` itself."""
        return cls(
            cfg=cfg,
            content=content_detector(cfg),
            recipients=recipient_classifier(cfg.gateway.organisation.domains, cfg.policy),
            marking=marking_rules(cfg.policy),
            encryption=encryption_rules(cfg.policy),
            cases=cases,
        )

    def read_message(self, message: bytes | SpoolRef) -> tuple[EmailMessage, Extraction, int]:
        """Parse and extract: (message, extraction, size in bytes). A spooled message is read from its file
        through ``gateway.mime.spooled`` (never the raw bytes and the decoded attachments at once: issue 13's
        memory bound); when that reader cannot be sure of the result, the whole file is read and parsed the
        ordinary way, as bytes handed in are."""
        limits = self.cfg.gateway.extraction
        if isinstance(message, SpoolRef):
            sk = skeleton_from_blocks(message.blocks())
            if sk is not None:
                # The runs taken out hold no "\n--": the skeleton counts the raw message's boundaries.
                if sk.data.count(b"\n--") > 2 * limits.max_parts:
                    return parse_headers(sk.data), _part_flood(limits.max_parts), message.size
                msg = parse_skeletal(sk)
                if msg is not None:
                    return msg, extract(msg, limits), message.size
            sk = None  # free the decoded runs before the whole file is read
            message = message.read()
        if message.count(b"\n--") > 2 * limits.max_parts:
            # The stdlib parser spends ~250 us per MIME part before any limit of ours applies; a message with
            # tens of thousands of boundaries is judged on its headers alone, as unscannable.
            return parse_headers(message), _part_flood(limits.max_parts), len(message)
        msg = parse_message(message)
        return msg, extract(msg, limits), len(message)

    def scan(
        self,
        raw: bytes | SpoolRef,
        mail_from: str,
        rcpt_tos: Sequence[str],
        *,
        reveal: bool = False,
    ) -> ScanResult:
        """The facts about one message: its bytes, or (a large message in a scan worker) a reference to its spool
        file, read block by block so that its large attachments are held only decoded (``read_message``)."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        msg, extraction, size = self.read_message(raw)
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
            recipients=recipient_names(msg, rcpt_tos),
            run_ner=bool(external),
            # The case directory needs the case numbers' text; it is dropped again below unless asked for.
            reveal=reveal or self.cases is not None,
        )
        findings = tuple(self.content.analyze(extraction.chunks, ctx))
        t2 = time.perf_counter()
        timings["detect"] = t2 - t1
        case = CaseMatch()
        if self.cases is not None:
            case = self.cases.match(
                [(c.location, c.text) for c in extraction.chunks],
                [f.text for f in findings if f.entity == "UK_FAMILY_CASE_NUMBER" and f.text],
                [r.address for r in external],
                reveal=reveal,
            )
            findings += case.findings
            if not reveal:
                findings = tuple(replace(f, text=None) if f.text is not None else f for f in findings)
            timings["cases"] = time.perf_counter() - t2

        fwd = forwarding_evidence(msg)
        enc = encryption_state(msg, self.encryption, [n.detail for n in extraction.ciphertext])
        sensitivity = assess_sensitivity(findings, self.content.weights)
        return ScanResult(
            sender=mail_from,
            recipients=recipients,
            findings=findings,
            sensitivity=sensitivity,
            distinct_case_numbers=distinct_case_numbers(findings),
            protective_marking=protective_marking(findings, extraction.chunks, msg, self.marking),
            unscannable=extraction.unscannable,
            not_text_scanned=extraction.not_text_scanned,
            attachments=extraction.attachments,
            forwarded=fwd.forwarded,
            forwarding_evidence=fwd.evidence,
            auto_reply=fwd.auto_reply,
            encrypted=enc.covers(sensitivity),
            encryption_evidence=enc.evidence,
            subject_trigger=enc.subject_trigger,
            false_encryption_claims=extraction.false_encryption_claims,
            redaction_failed=extraction.redaction_failed,
            visible_external=visible_external,
            headers=_header_pairs(msg),
            size=size,
            message_id=(str(msg.get("Message-ID", "")).strip() or None),
            defects=extraction.defects,
            ner_skipped=not ctx.run_ner,
            case_directory=self.cases is not None,
            cases=case.cases,
            distinct_cases=case.distinct,
            case_unlinked=case.unlinked,
            timings=timings,
        )
