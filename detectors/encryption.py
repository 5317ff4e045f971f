"""Is the message already protected? (IA 4.5: protected information must be sent encrypted.)

Two different things make a message encrypted for the policy:

* the service downstream will encrypt it: the subject trigger the sender typed (IA 4.6: "prefix the subject
  heading with the word 'encrypt'"), read raw as the service reads it (``headerutil.raw_subject_has_trigger``),
  or a sensitivity-label header naming a label configured as encrypting. Everything in the message goes
  through the service, so the whole message counts;
* it already is ciphertext: S/MIME EnvelopedData, an OpenPGP encrypted message (PGP/MIME or inline armour),
  a rights-management ``message.rpmsg``. Proven from the bytes by ``gateway.mime.protected`` during
  extraction, never from a content type, name, header or armour line (those are false claims when the bytes
  disagree, a fact of their own). A signature only says who wrote the message; it is not encryption.

Ciphertext covers only what is inside it. The subject, the headers, any text around an armour block and any
other part are read like in any message, so a message counts as encrypted on ciphertext alone only when none
of that readable content is protected information (``covers``): otherwise the findings there are decided as
usual, and the encrypt action protects them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage, Message

from detectors.findings import Sensitivity
from detectors.headerutil import any_label_in, header_values, raw_subject_has_trigger


@dataclass(frozen=True, slots=True)
class EncryptionRules:
    """What counts as the sender asking for encryption, or a label that encrypts (from the policy)."""

    triggers: tuple[str, ...]
    """Subject trigger words (``encrypt``): the downstream encryption service acts on them."""
    label_headers: tuple[str, ...]
    """Headers that carry a sensitivity label (``msip_labels``, ``X-Sensitivity-Label`` ...)."""
    encrypting_labels: tuple[str, ...]
    """Label names or ids whose label encrypts the message."""


@dataclass(frozen=True, slots=True)
class EncryptionState:
    encrypted: bool
    """The service will encrypt it, or some of it is proven ciphertext (see ``covers`` for the policy)."""
    evidence: tuple[str, ...]
    subject_trigger: bool
    by_service: bool = False
    """The subject trigger or an encrypting label: the whole message is encrypted downstream."""
    ciphertext: bool = False
    """Some of the message's own parts are proven ciphertext."""

    def covers(self, readable: Sensitivity) -> bool:
        """Whether the message counts as encrypted for the policy, given the sensitivity of what is readable:
        the service encrypts everything; ciphertext protects only itself, so protected information in the
        readable parts (subject, text around the armour, other attachments) leaves the message unencrypted."""
        return self.by_service or (self.ciphertext and readable < Sensitivity.PERSONAL)


def label_names(msg: Message, headers: Sequence[str]) -> list[str]:
    """Sensitivity-label names (and ids) from the configured headers, enabled labels only.

    Purview writes ``MSIP_Label_<guid>_Enabled=true; MSIP_Label_<guid>_Name=Official-Sensitive; ...``;
    other products write the label name as the whole value."""
    out: list[str] = []
    for header in headers:
        for value in header_values(msg, header):
            if "msip_label_" in value.lower():
                fields: dict[str, dict[str, str]] = {}
                for m in re.finditer(r"MSIP_Label_([0-9A-Fa-f-]{36})_(\w+)\s*=\s*([^;]*)", value, re.IGNORECASE):
                    fields.setdefault(m.group(1).lower(), {})[m.group(2).lower()] = m.group(3).strip()
                for guid, f in fields.items():
                    if f.get("enabled", "true").lower() == "true":
                        out.append(guid)
                        if f.get("name"):
                            out.append(f["name"])
            elif value.strip():
                out.append(value.strip())
    return out


def encryption_state(msg: EmailMessage, rules: EncryptionRules, ciphertext: Sequence[str] = ()) -> EncryptionState:
    """The message's encryption evidence: ``ciphertext`` is what extraction proved (``Extraction.ciphertext``
    details, e.g. ``S/MIME enveloped data (1 recipient)``); the trigger and labels are read here."""
    evidence: list[str] = list(dict.fromkeys(ciphertext))
    trigger = raw_subject_has_trigger(msg, rules.triggers)
    if trigger:
        evidence.append("subject trigger")
    label = False
    if rules.encrypting_labels:
        names = label_names(msg, rules.label_headers)
        label = any_label_in(names, rules.encrypting_labels, exact=True) is not None
        if label:
            evidence.append("encrypting sensitivity label")
    return EncryptionState(
        encrypted=bool(evidence),
        evidence=tuple(evidence),
        subject_trigger=trigger,
        by_service=trigger or label,
        ciphertext=bool(ciphertext),
    )
