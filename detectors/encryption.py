"""Is the message already protected? (IA 4.5: protected information must be sent encrypted.)

Counts as encrypted:

* S/MIME enveloped data (``application/pkcs7-mime; smime-type=enveloped-data`` or ``authEnveloped-data``;
  with no ``smime-type`` the DER content type is read instead). Signed-only S/MIME is *not* encrypted: a
  signature proves who wrote it, and anyone can read it;
* PGP/MIME (``multipart/encrypted``) and inline PGP armour that is the body (a message that merely quotes an
  armour block next to readable text is not protected);
* a Microsoft Purview / IRM protected message (``message.rpmsg``);
* the subject trigger the sender typed: the downstream encryption service encrypts such a message, so for the
  policy it is encrypted already (IA 4.6: "prefix the subject heading with the word 'encrypt'");
* a sensitivity-label header naming a label configured as encrypting.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage, Message

from detectors.headerutil import any_label_in, first_header, header_values, subject_has_trigger


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
    evidence: tuple[str, ...]
    subject_trigger: bool


_OID_ENVELOPED = bytes.fromhex("06092a864886f70d010703")  # 1.2.840.113549.1.7.3
_OID_AUTH_ENVELOPED = bytes.fromhex("060b2a864886f70d0109100117")  # 1.2.840.113549.1.9.16.1.23
_PKCS7_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_ARMOUR = re.compile(r"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", re.DOTALL)
_MAX_TEXT_AROUND_ARMOUR = 300
"""Characters of readable text allowed next to an armour block (greeting, signature)."""


def _ctype(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return ""


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    return value.lower() if isinstance(value, str) else ""


def _der_is_enveloped(part: Message) -> bool:
    """Without ``smime-type``, the ContentInfo OID near the start of the DER says what it is."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return False
    if not isinstance(payload, bytes) or not payload:
        return False
    head = payload[:64]
    if head.lstrip().startswith(b"MII"):  # base64 left undecoded (wrong transfer encoding)
        try:
            head = base64.b64decode(payload.strip()[:88] + b"==")[:64]
        except (binascii.Error, ValueError):
            return False
    return _OID_ENVELOPED in head or _OID_AUTH_ENVELOPED in head


def _smime_enveloped(part: Message) -> bool:
    if _ctype(part) not in _PKCS7_TYPES:
        return False
    smime_type = _param(part, "smime-type")
    if smime_type in ("enveloped-data", "authenveloped-data"):
        return True
    if smime_type:  # signed-data, certs-only, compressed-data
        return False
    return _der_is_enveloped(part)


def _body_text_parts(msg: Message) -> list[Message]:
    out: list[Message] = []
    try:
        parts = list(msg.walk())
    except Exception:
        return out
    for part in parts:
        try:
            if part.is_multipart() or _ctype(part) != "text/plain":
                continue
            if (part.get_content_disposition() or "inline") == "attachment":
                continue
        except Exception:  # noqa: S112 - a part whose headers cannot be read is not a body part
            continue
        out.append(part)
    return out


def _text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _inline_pgp(msg: Message) -> bool:
    parts = _body_text_parts(msg)
    if not parts:
        return False
    for part in parts:
        text = _text(part)
        if not _ARMOUR.search(text):
            return False
        if len(_ARMOUR.sub("", text).strip()) > _MAX_TEXT_AROUND_ARMOUR:
            return False
    return True


def _rpmsg(msg: Message) -> bool:
    if first_header(msg, "Content-Class").lower().startswith("rpmsg.message"):
        return True
    try:
        parts = list(msg.walk())
    except Exception:
        return False
    for part in parts:
        if _ctype(part) == "application/x-microsoft-rpmsg-message":
            return True
        try:
            name = (part.get_filename() or "").lower()
        except Exception:
            name = ""
        if name == "message.rpmsg":
            return True
    return False


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


def encryption_state(msg: EmailMessage, rules: EncryptionRules) -> EncryptionState:
    evidence: list[str] = []
    top = _ctype(msg)
    if _smime_enveloped(msg):
        evidence.append("S/MIME enveloped data")
    elif top == "multipart/encrypted":
        evidence.append("PGP/MIME" if "pgp" in _param(msg, "protocol") else "multipart/encrypted")
    elif top == "multipart/signed":
        # Signed outside, encrypted inside is unusual but legal; signed only is not encrypted.
        try:
            payload = msg.get_payload()
        except Exception:
            payload = None
        first = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(first, Message) and (_smime_enveloped(first) or _ctype(first) == "multipart/encrypted"):
            evidence.append("encrypted inside a signature")
    if not evidence and _inline_pgp(msg):
        evidence.append("inline PGP")
    if _rpmsg(msg):
        evidence.append("rights-management protected (rpmsg)")

    subject = first_header(msg, "Subject")
    trigger = subject_has_trigger(subject, rules.triggers)
    if trigger:
        evidence.append("subject trigger")

    if rules.encrypting_labels:
        names = label_names(msg, rules.label_headers)
        if any_label_in(names, rules.encrypting_labels, exact=True):
            evidence.append("encrypting sensitivity label")
    return EncryptionState(encrypted=bool(evidence), evidence=tuple(evidence), subject_trigger=trigger)
