"""The facts about one message that the policy decides on (the output of ``gateway.scan``).

Everything here is plain, immutable data so that it can cross the worker-process boundary and so that
``gateway.policy.engine.decide`` stays a pure function of (facts, policy).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detectors.findings import Finding, RecipientInfo, Sensitivity
from gateway.mime.model import AttachmentInfo, Note, Unscannable


@dataclass(frozen=True, slots=True)
class ScanResult:
    sender: str
    recipients: tuple[RecipientInfo, ...]
    findings: tuple[Finding, ...] = ()
    sensitivity: Sensitivity = Sensitivity.NONE
    distinct_case_numbers: int = 0
    protective_marking: bool = False
    """OFFICIAL-SENSITIVE (or similar) in the subject, the first lines of the body or a label header."""
    unscannable: tuple[Unscannable, ...] = ()
    not_text_scanned: tuple[str, ...] = ()
    """Images (and scanned PDF pages) not read for text because OCR is off or unavailable: the policy's
    ``images_not_scanned`` condition (off in the default policy, so a signature logo never holds mail)."""
    attachments: tuple[AttachmentInfo, ...] = ()
    forwarded: bool = False
    forwarding_evidence: tuple[str, ...] = ()
    auto_reply: bool = False
    encrypted: bool = False
    """The service downstream encrypts it (subject trigger, encrypting label), or it is proven ciphertext and
    nothing readable around the ciphertext is protected information (``detectors.encryption``)."""
    encryption_evidence: tuple[str, ...] = ()
    false_encryption_claims: tuple[Note, ...] = ()
    """Labels, names or headers saying encrypted where the bytes are not ciphertext (``false_encryption_claim``)."""
    redaction_failed: tuple[Note, ...] = ()
    """Documents with live text under a black box or a redaction colour (``redaction_failed``)."""
    subject_trigger: bool = False
    """The sender typed the encryption trigger word at the start of the subject."""
    visible_external: int = 0
    """Number of non-internal addresses visible in To/Cc (IA 4.6/4.7: use Bcc)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Header (name, value) pairs for header-pattern conditions. Never logged or stored."""
    size: int = 0
    message_id: str | None = None
    defects: tuple[str, ...] = ()
    ner_skipped: bool = False
    """True when NER was not run because no outcome could depend on it (e.g. internal-only mail)."""
    case_directory: bool = False
    """A case directory snapshot was loaded for this scan, so the case facts below mean something (issue 16)."""
    cases: tuple[str, ...] = ()
    """Hashed ids of the directory cases the message is about: its case numbers and its known children."""
    distinct_cases: int = 0
    """Distinct cases identified either way, in the directory or not; 0 without a directory."""
    case_unlinked: tuple[str, ...] = ()
    """External recipients not linked in the directory to every case of the message (the policy then applies
    ``recipients.case_always_allowed``)."""
    first_time: tuple[str, ...] = ()
    """External recipients never delivered to before by this sender (or anyone: ``cases.first_time_scope``).
    Looked up in the gateway process, not the worker."""
    first_time_known: bool = False
    """The history was consulted. False means unknown (no key, store unreachable): ``first_time_recipient``
    never holds."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def external_recipients(self) -> tuple[RecipientInfo, ...]:
        return tuple(r for r in self.recipients if r.cls != "internal")
