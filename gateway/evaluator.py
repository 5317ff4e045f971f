"""One message's verdict: scan facts, then the policy's decision with the S/MIME certificates applied.

The gateway, ``dlpgate scan`` and the sample expectations (``check-config``) all judge a message through this
one class, so a sample that passes ``check-config`` is judged the same way in the relay. The gateway scans in
worker processes and calls only ``decide`` here; the CLI paths call ``evaluate``, which scans in-process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from cryptography import x509

from gateway.actions.encrypt import CertificateDirectory
from gateway.config import Config
from gateway.facts import ScanResult
from gateway.mime.parse import header_addresses, parse_message
from gateway.policy.config import PolicyConfig
from gateway.policy.engine import decide, resolve_smime
from gateway.policy.exemptions import Exemption
from gateway.policy.model import Decision

if TYPE_CHECKING:
    from detectors.cases import CaseMatcher
    from gateway.scan import Scanner


def load_certificates(policy: PolicyConfig) -> CertificateDirectory | None:
    """The recipients' certificates when the policy encrypts with S/MIME. The folder is the one the policy
    loader resolved and checked (``encrypt.smime.cert_dir``, relative to the policy file)."""
    if policy.encrypt.mode != "smime":
        return None
    return CertificateDirectory(policy.lists.cert_dir)


def envelope_from_headers(raw: bytes) -> tuple[str, list[str]]:
    """(sender, recipients) from the From and To/Cc/Bcc headers, for messages read from files."""
    msg = parse_message(raw)
    sender = header_addresses(msg, "From")
    return (sender[0] if sender else ""), header_addresses(msg, "To", "Cc", "Bcc")


class Evaluation(NamedTuple):
    facts: ScanResult
    decision: Decision


class Evaluator:
    """Scanner (built on first in-process use), certificates and the pure policy decision."""

    def __init__(self, cfg: Config, *, scanner: Scanner | None = None, cases: CaseMatcher | None = None) -> None:
        self.policy = cfg.policy
        self.certs = load_certificates(cfg.policy) if cfg.gateway.scan.enabled else None
        self._cfg = cfg
        self._scanner = scanner
        self._cases = cases
        """The case directory for in-process scans (``scan``, the samples); the gateway's workers get theirs
        from the runtime's snapshot."""

    @property
    def scanner(self) -> Scanner:
        if self._scanner is None:
            # Imported here so the gateway process, which scans in workers, never loads Presidio and spaCy.
            from gateway.scan import Scanner

            self._scanner = Scanner.from_config(self._cfg, cases=self._cases)
        return self._scanner

    def decide(self, facts: ScanResult, exemptions: Iterable[Exemption] = ()) -> Decision:
        """The policy's decision, with the S/MIME fallback applied when a recipient has no certificate.
        ``exemptions``: the approved, unexpired policy exceptions (the gateway's ``ExemptionCache``)."""
        decision = decide(facts, self.policy, exemptions)
        certs = self.certs
        if certs is not None:
            decision = resolve_smime(decision, facts, lambda a: certs.get(a) is not None, self.policy)
        return decision

    def evaluate(
        self,
        raw: bytes,
        mail_from: str | None = None,
        rcpt_tos: Sequence[str] | None = None,
        *,
        reveal: bool = False,
    ) -> Evaluation:
        """Scan and decide in this process; a missing envelope side comes from the headers."""
        if mail_from is None or not rcpt_tos:
            sender, rcpts = envelope_from_headers(raw)
            mail_from = sender if mail_from is None else mail_from
            rcpt_tos = rcpt_tos or rcpts
        facts = self.scanner.scan(raw, mail_from, rcpt_tos, reveal=reveal)
        return Evaluation(facts, self.decide(facts))

    def certificates_for(self, recipients: Sequence[str]) -> list[x509.Certificate]:
        """Every recipient's certificate for S/MIME; an error when one is missing (``decide`` has already
        chosen the fallback for that case, so a gap here is a bug, and the message gets a 451)."""
        if self.certs is None:
            raise RuntimeError("S/MIME encryption without a certificate directory")
        certs = [self.certs.get(r) for r in recipients]
        if any(c is None for c in certs):
            raise RuntimeError("S/MIME certificate missing after resolve_smime")
        return [c for c in certs if c is not None]
