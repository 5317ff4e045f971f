"""Encrypted and signature parts: proven by their bytes, never by their labels (issue 12, section 1).

A content type (``multipart/encrypted``, ``application/pkcs7-mime; smime-type=enveloped-data``), a name
(``message.rpmsg``, ``report.pgp``), a header (``Content-Class: rpmsg.message``) or armour lines say that a
part is encrypted; only its bytes can show it. ``examine`` looks at one part or file and returns a verdict the
walker (``extract.py``) acts on:

* ``ciphertext``: a CMS EnvelopedData with recipients and encrypted content (``smime.enveloped_ciphertext``),
  an OpenPGP encrypted message (``openpgp``), or an rpmsg container (``rpmsg``), each with ciphertext that
  looks like ciphertext (``ciphertext.looks_random``). Nothing in it can be read; the message may count as
  encrypted;
* ``password``: CMS EncryptedData, encrypted with a shared key and no recipient: like a password-protected
  file, unscannable;
* ``signature``: a detached CMS or OpenPGP signature: nothing to read;
* ``readable``: OpenPGP signed or compressed data that anyone can read: its contents are scanned;
* ``claim``: a label said encrypted and the bytes do not prove it: a false encryption claim. The part is read
  like any other (and whatever the fake container holds is read too);
* ``unproven``: a signature label on something that is not a signature: read like any other part (no
  encryption was claimed).

``None`` means the part makes no claim and is nothing of the above: the ordinary extractors read it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Literal

from gateway.mime import openpgp, rpmsg, smime
from gateway.mime.ciphertext import looks_random, readable_form
from gateway.mime.guards import ExtractionProblem

Outcome = Literal["ciphertext", "password", "signature", "readable", "claim", "unproven"]

PKCS7_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
SIGNATURE_TYPES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
RPMSG_TYPE = "application/x-microsoft-rpmsg-message"
PGP_TYPES = frozenset({"application/pgp-encrypted", "application/pgp"})
_ENVELOPED_SMIME = frozenset({"enveloped-data", "authenveloped-data"})
_PGP_NAMES = (".pgp", ".gpg")
_CMS_HEAD_OIDS = (
    bytes.fromhex("06092a864886f70d010703"),  # envelopedData
    bytes.fromhex("060b2a864886f70d0109100117"),  # authEnvelopedData
    bytes.fromhex("06092a864886f70d010706"),  # encryptedData
)


GENERATED_NAMES = frozenset(
    {"encrypted-data.bin", "armour.bin", "enveloped-content.bin", "DRMContent.bin", "literal-data"}
)
"""Names given to payloads that have none of their own (not a file name the sender chose)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    detail: str
    """What the ciphertext is, or what claimed encryption and why it is not proven. Never content."""
    payloads: tuple[tuple[str, bytes], ...] = field(default=())
    """Readable content found inside (literal data, the bytes of a fake ciphertext field), to be scanned."""


def _claim(name: str, declared_type: str, smime_type: str | None) -> str:
    """What the part's labels claim ("" for nothing)."""
    lower = name.lower()
    if declared_type == RPMSG_TYPE or lower.endswith(".rpmsg"):
        return "rights-management (rpmsg) label"
    if declared_type in PKCS7_TYPES and (smime_type or "").lower() in _ENVELOPED_SMIME:
        return f"S/MIME {smime_type} label"
    if declared_type in PKCS7_TYPES or lower.endswith(".p7m"):
        return "S/MIME (.p7m) label"
    if declared_type in PGP_TYPES or lower.endswith(_PGP_NAMES):
        return "OpenPGP label"
    return ""


def _cms(data: bytes, claim: str, budget: int) -> Verdict | None:
    try:
        kind = smime.content_type(data)
    except (smime.BerError, IndexError):
        return Verdict("claim", f"{claim}: not CMS") if claim else None
    if kind == smime.ENCRYPTED_DATA:
        return Verdict("password", "CMS encrypted-data (a shared key, no recipient)")
    if kind not in (smime.ENVELOPED_DATA, smime.AUTH_ENVELOPED_DATA):
        if claim and "enveloped" in claim:
            return Verdict("claim", f"{claim}: CMS content is not enveloped")
        return None  # signed (read by the caller or the pkcs7 extractor) or another CMS type
    try:
        _, recipients, encrypted = smime.enveloped_ciphertext(data)
    except (smime.BerError, IndexError):
        return Verdict("claim", f"{claim or 'CMS enveloped-data'}: structure does not parse")
    if not looks_random(encrypted):
        return Verdict("claim", f"{claim or 'CMS enveloped-data'}: content is not ciphertext",
                       (("enveloped-content.bin", readable_form(encrypted, budget)),))
    noun = "recipient" if recipients == 1 else "recipients"
    return Verdict("ciphertext", f"S/MIME enveloped data ({recipients} {noun})")


def _pgp_binary(data: bytes, claim: str, budget: int) -> Verdict | None:
    try:
        verdict = openpgp.examine(data, budget)
    except openpgp.PgpError as exc:
        return Verdict("claim", f"{claim}: not OpenPGP ({exc})") if claim else None
    return _from_pgp(verdict, claim)


def _from_pgp(verdict: openpgp.PgpVerdict, claim: str) -> Verdict | None:
    if verdict.kind == "encrypted":
        return Verdict("ciphertext", verdict.detail)
    if verdict.kind == "fake":
        return Verdict("claim", f"{claim}: {verdict.detail}" if claim else verdict.detail, verdict.payloads)
    if verdict.kind == "signature":
        return Verdict("signature", verdict.detail)
    if verdict.kind == "readable":
        return Verdict("readable", verdict.detail, verdict.payloads)
    return None  # a key block: read as an ordinary file


def _rpmsg(data: bytes, claim: str, budget: int) -> Verdict:
    try:
        real, readable = rpmsg.proven(data, budget)
    except rpmsg.NotRpmsg as exc:
        return Verdict("claim", f"{claim or 'rpmsg signature'}: {exc.detail}")
    if real:
        return Verdict("ciphertext", "rights-management protected message (rpmsg)")
    return Verdict("claim", f"{claim or 'rpmsg container'}: DRMContent is not ciphertext",
                   (("DRMContent.bin", readable_form(readable, budget)),))


def _undo_base64(data: bytes) -> bytes:
    """A PKCS#7 part sent with the wrong transfer encoding still holds base64 (``MII...``) text."""
    stripped = data.strip()
    if not stripped.startswith(b"MI"):
        return data
    try:
        return base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        return data


def examine(
    data: bytes, name: str, declared_type: str, budget: int, *, smime_type: str | None = None
) -> Verdict | None:
    """The verdict for one part or file, or None when it is none of the protected kinds and claims nothing."""
    claim = _claim(name, declared_type, smime_type)
    head = data[:64].lstrip()
    if head.startswith(b"-----BEGIN PGP "):
        return armoured_file(data, claim, budget)
    if data.startswith(rpmsg.MAGIC) or claim.startswith("rights-management"):
        return _rpmsg(data, claim, budget)
    if claim.startswith("S/MIME"):
        return _cms(_undo_base64(data), claim, budget)
    if data[:1] == b"\x30" and any(oid in data[:40] for oid in _CMS_HEAD_OIDS):
        return _cms(data, claim, budget)
    if claim or (data[:1] and data[0] in openpgp.SESSION_KEY_STARTS):
        return _pgp_binary(data, claim, budget)
    return None


def armoured_file(data: bytes, claim: str, budget: int) -> Verdict | None:
    """A file that is one armour block (``.asc``, a PGP/MIME encrypted part)."""
    text = data.decode("ascii", "replace")
    blocks = list(openpgp.armour_blocks(text))
    if len(blocks) != 1 or text[: blocks[0].start].strip() or text[blocks[0].end :].strip():
        return Verdict("claim", f"{claim or 'PGP armour'}: armour with other text around it") if claim else None
    block = blocks[0]
    if not block.complete:
        return Verdict("claim", f"{claim or 'PGP armour'}: no END line")
    if block.label not in ("MESSAGE", "SIGNATURE"):
        return None
    return _block_verdict(block, claim, budget)


def _block_verdict(block: openpgp.ArmourBlock, claim: str, budget: int) -> Verdict | None:
    label = f"PGP {block.label} armour"
    if not block.complete:
        return Verdict("claim" if block.label == "MESSAGE" else "unproven", f"{claim or label}: no END line")
    verdict = _from_pgp(openpgp.examine_armour(block.label, block.lines, budget), claim)
    if verdict is not None and verdict.outcome == "claim" and block.label == "SIGNATURE":
        return Verdict("unproven", verdict.detail, verdict.payloads)
    return verdict


def split_armour(text: str, budget: int) -> tuple[str, list[Verdict]]:
    """Armour blocks in a text body: proven ciphertext and real signatures are cut out of the text (nothing
    to read, and their base64 is noise to the detectors); every other block stays in the text, so whatever a
    person can read in it is scanned. Returns the remaining text and one verdict per MESSAGE/SIGNATURE block.

    Only blocks whose BEGIN line starts a line count: an armour block quoted in a reply (``> -----BEGIN``)
    is ordinary quoted text."""
    if "-----BEGIN PGP " not in text:
        return text, []
    verdicts: list[Verdict] = []
    pieces: list[str] = []
    last = 0
    for block in openpgp.armour_blocks(text):
        if block.label not in ("MESSAGE", "SIGNATURE"):
            continue
        verdict = _block_verdict(block, "", budget)
        if verdict is None:
            continue
        verdicts.append(verdict)
        if verdict.outcome in ("ciphertext", "signature", "readable"):
            pieces.append(text[last : block.start])
            pieces.append("\n")
            last = block.end
    pieces.append(text[last:])
    return "".join(pieces), verdicts


def is_signature(declared_type: str, data: bytes) -> bool:
    """A signature part that really is a detached signature (nothing else is skipped unread)."""
    if declared_type == "application/pgp-signature":
        text = data.decode("ascii", "replace")
        blocks = list(openpgp.armour_blocks(text))
        if len(blocks) != 1 or blocks[0].label != "SIGNATURE" or not blocks[0].complete:
            return False
        if text[: blocks[0].start].strip() or text[blocks[0].end :].strip():
            return False
        try:
            return openpgp.examine_armour("SIGNATURE", blocks[0].lines, 0).kind == "signature"
        except ExtractionProblem:  # compressed data inside, over the (zero) budget: not a signature
            return False
    try:
        return smime.detached_signature(_undo_base64(data))
    except (smime.BerError, IndexError):
        return False


def is_pgp_control(data: bytes) -> bool:
    """The PGP/MIME control part (RFC 3156): ``Version: 1`` and nothing else."""
    return data.strip() == b"Version: 1"
