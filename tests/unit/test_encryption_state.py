"""Already-encrypted detection: proven ciphertext (S/MIME, PGP, rpmsg), the raw subject trigger, labels.

A label never proves encryption (issue 12, section 1): every class below is tested with several variants, the
real thing (built in-process here; with gpg and openssl in tests/integration/test_encryption_claims.py) and
forgeries of it. Encryption state is read the way the scanner reads it: extraction proves the ciphertext,
``encryption_state`` adds the trigger and labels.
"""

from __future__ import annotations

import base64
import email
import email.policy
import zlib
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from detectors.encryption import EncryptionState, encryption_state
from detectors.findings import Sensitivity
from detectors.headerutil import subject_has_trigger
from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import Extraction
from gateway.policy.config import PolicyConfig, load_policy
from gateway.scan import encryption_rules
from tests import crypto_fixtures as cf

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy(ROOT / "config" / "policy.yaml")
RULES = encryption_rules(POLICY)
HEAD = "From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: a@example.org\r\nSubject: {subject}\r\n"


def parse(text: str | bytes) -> EmailMessage:
    raw = text.encode() if isinstance(text, str) else text
    return cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))


def plain(subject: str = "Hello", extra: str = "", body: str = "Hi\r\n") -> EmailMessage:
    return parse(HEAD.format(subject=subject) + extra + "Content-Type: text/plain\r\n\r\n" + body)


def scan(raw: str | bytes, rules: object = RULES) -> tuple[EncryptionState, Extraction]:
    """Encryption state as the scanner computes it: extraction's proofs plus the header evidence."""
    msg = parse(raw)
    extraction = extract(msg, ExtractionLimits())
    state = encryption_state(msg, rules, [n.detail for n in extraction.ciphertext])  # type: ignore[arg-type]
    return state, extraction


def text_of(extraction: Extraction) -> str:
    return "\n".join(c.text for c in extraction.chunks)


# --- subject trigger (section 4: as the downstream service reads it) ------------------------------------------


@pytest.mark.parametrize(
    ("subject", "trigger"),
    [
        ("encrypt", True),
        ("Encrypt report for court", True),
        ("ENCRYPT: report", True),
        ("[encrypt] report", True),
        ("[ Encrypt ] report", True),
        ("RE: encrypt report", True),
        ("RE: FW: Encrypt: report", True),
        ("Fwd: [ENCRYPT] report", True),
        ("AW: encrypt report", True),
        ("encrypt =?utf-8?q?caf=C3=A9?= notes", True),
        ("Encryption keys", False),
        ("encrypted file attached", False),
        ("Please encrypt this", False),
        ("report encrypt", False),
        ("", False),
    ],
)
def test_subject_trigger(subject: str, trigger: bool) -> None:
    """The trigger counts only as a whole word at the start, after any RE:/FW: prefixes, any case."""
    assert subject_has_trigger(subject, ["encrypt"]) is trigger
    state = encryption_state(plain(subject), RULES)
    assert state.subject_trigger is trigger
    assert state.encrypted is trigger and state.by_service is trigger


@pytest.mark.parametrize(
    "subject",
    [
        "=?utf-8?q?encrypt?= notes",
        "=?utf-8?b?" + base64.b64encode("encrypt – café".encode()).decode() + "?=",
        "=?us-ascii?Q?ENCRYPT:?= report",
        "RE: =?utf-8?q?=5Bencrypt=5D?= report",
        "=?iso-8859-1?q?encrypt_report?=",
    ],
)
def test_encoded_trigger_is_not_what_the_service_sees(subject: str) -> None:
    """A trigger visible only after RFC 2047 decoding is no trigger: the service matches the raw header, so the
    message is not counted as encrypted (and an encrypt rule tags it in plain ASCII)."""
    state = encryption_state(plain(subject), RULES)
    assert not state.subject_trigger and not state.encrypted


def test_folded_raw_trigger_counts_and_every_subject_must_have_it() -> None:
    """A folded raw subject is unfolded before matching; a second Subject without the trigger spoils it."""
    assert encryption_state(plain("\r\n encrypt report"), RULES).subject_trigger
    two = HEAD.format(subject="encrypt x") + "Subject: report\r\nContent-Type: text/plain\r\n\r\nHi\r\n"
    assert not encryption_state(parse(two), RULES).subject_trigger


def test_configurable_triggers() -> None:
    """Trigger words come from the policy (e.g. an organisation using 'secure')."""
    policy = PolicyConfig.model_validate({"encrypt": {"triggers": ["secure"], "subject_tag": "[secure] "}})
    assert encryption_state(plain("SECURE: x"), encryption_rules(policy)).encrypted
    assert not encryption_state(plain("encrypt: x"), encryption_rules(policy)).encrypted


def test_encrypting_label() -> None:
    """A sensitivity label configured as encrypting marks the message encrypted; others do not."""
    policy = PolicyConfig.model_validate({"sensitivity_labels": {"encrypting_labels": ["Official Sensitive Encrypt"]}})
    rules = encryption_rules(policy)
    guid = "12345678-1234-1234-1234-123456789abc"
    label = (
        f"msip_labels: MSIP_Label_{guid}_Enabled=true; MSIP_Label_{guid}_SetDate=2024-01-01T10:00:00Z;"
        f" MSIP_Label_{guid}_Name=Official-Sensitive-Encrypt; MSIP_Label_{guid}_SiteId=abc\r\n"
    )
    assert encryption_state(plain(extra=label), rules).by_service
    assert not encryption_state(plain(extra=label.replace("-Encrypt", "")), rules).encrypted
    assert not encryption_state(plain(extra=label.replace("Enabled=true", "Enabled=false")), rules).encrypted
    assert encryption_state(plain(extra="X-Sensitivity-Label: official sensitive encrypt\r\n"), rules).encrypted


def test_plain_message_not_encrypted() -> None:
    """An ordinary message has no encryption evidence."""
    state, extraction = scan(cf.plain_message())
    assert not state.encrypted and state.evidence == ()
    assert extraction.false_encryption_claims == () and extraction.ciphertext == ()


def test_covers_readable_sensitivity() -> None:
    """Ciphertext covers only itself: protected information in the readable parts leaves the message
    unencrypted for the policy; the service (trigger, label) covers everything."""
    ciphertext = EncryptionState(True, ("S/MIME enveloped data (1 recipient)",), False, ciphertext=True)
    assert ciphertext.covers(Sensitivity.NONE)
    assert not ciphertext.covers(Sensitivity.PERSONAL) and not ciphertext.covers(Sensitivity.SPECIAL_CATEGORY)
    service = EncryptionState(True, ("subject trigger",), True, by_service=True)
    assert service.covers(Sensitivity.SPECIAL_CATEGORY)
    assert not EncryptionState(False, (), False).covers(Sensitivity.NONE)


# --- S/MIME ----------------------------------------------------------------------------------------------------


def test_real_smime_is_encrypted_and_headers_still_read() -> None:
    """Enveloped S/MIME made by the gateway's own builder is proven; its subject and headers are still read."""
    state, extraction = scan(cf.smime_message(subject="Report on Amelia Brown"))
    assert state.encrypted and state.ciphertext and "S/MIME enveloped data (1 recipient)" in state.evidence
    assert extraction.false_encryption_claims == ()
    assert "Amelia Brown" in text_of(extraction)  # the subject is not inside the ciphertext
    assert "943 476 5919" not in text_of(extraction)


@pytest.mark.parametrize(
    ("smime_type", "body"),
    [
        ("enveloped-data", cf.CHILD),
        ("authEnveloped-data", cf.CHILD),
        ("enveloped-data", base64.b64encode(cf.CHILD.encode()).decode()),
        ("enveloped-data", base64.b64encode(cf.fake_enveloped_der((cf.CHILD * 3).encode())).decode()),
        ("enveloped-data", base64.b64encode(cf.fake_enveloped_der(zlib.compress((cf.CHILD * 20).encode()))).decode()),
        (None, base64.b64encode(bytes.fromhex("3080") + bytes.fromhex("06092a864886f70d010703") + b"\0" * 40).decode()),
    ],
    ids=["plain-text", "auth-plain-text", "base64-text", "parsing-cms-plain-content", "parsing-cms-zlib-content",
         "oid-only"],
)
def test_smime_label_without_ciphertext_is_a_false_claim(smime_type: str | None, body: str) -> None:
    """An S/MIME type or a CMS shape with no ciphertext in it is not encrypted: it is a false claim."""
    raw = cf.smime_shaped(body, smime_type=smime_type or "x").replace(b"; smime-type=x", b"")
    state, extraction = scan(raw)
    assert not state.encrypted
    assert extraction.false_encryption_claims, extraction
    if body == cf.CHILD:
        assert "943 476 5919" in text_of(extraction)


def test_cms_content_hidden_in_a_parsing_envelope_is_read() -> None:
    """A well-formed EnvelopedData whose "encrypted" content is plain or zlib-compressed text: that text is read."""
    for content in ((cf.CHILD * 3).encode(), zlib.compress((cf.CHILD * 20).encode())):
        raw = cf.smime_shaped(base64.b64encode(cf.fake_enveloped_der(content)).decode())
        state, extraction = scan(raw)
        assert not state.encrypted and extraction.false_encryption_claims
        assert "943 476 5919" in text_of(extraction)


def test_multipart_signed_is_not_encrypted_and_a_fake_signature_is_read() -> None:
    """A clear-signed message is readable by anyone; a 'signature' part that is no signature is read."""
    raw = (
        HEAD.format(subject="x")
        + 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b"\r\n'
        + "\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
        + "--b\r\nContent-Type: application/pkcs7-signature\r\n\r\n" + cf.CHILD + "\r\n--b--\r\n"
    )
    state, extraction = scan(raw)
    assert not state.encrypted and "943 476 5919" in text_of(extraction)
    pgp = raw.replace("application/pkcs7-signature", "application/pgp-signature")
    assert "943 476 5919" in text_of(scan(pgp)[1])


# --- OpenPGP ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"session": "skesk"},
        {"data_tag": 9},
        {"data_tag": 20},
        {"new_format": False},
        {"new_format": False, "data_tag": 9},
        {"partial": True, "size": 3000},
        {"size": 70_000},
    ],
    ids=["pkesk-seipd", "skesk", "sed", "aead", "old-format", "old-format-sed", "partial-lengths", "large"],
)
def test_pgp_mime_packet_forms_are_proven(variant: dict[str, object]) -> None:
    """PGP/MIME whose encrypted part is a session-key packet and an encrypted data packet, in every header form
    the standard allows (old/new format, partial lengths; SEIPD, SED, AEAD), counts as encrypted."""
    state, extraction = scan(cf.pgp_mime(cf.armour(cf.pgp_encrypted(**variant))))  # type: ignore[arg-type]
    assert state.encrypted and any("OpenPGP encrypted message" in e for e in state.evidence), extraction
    assert extraction.false_encryption_claims == ()


def test_armour_checksum_optional_and_headers_allowed() -> None:
    """RFC 9580 makes the CRC-24 line optional; armour headers (Version:, Comment:) are skipped."""
    data = cf.pgp_encrypted()
    for text in (cf.armour(data, checksum=False), cf.armour(data, headers=("Version: GnuPG v2", "Comment: x"))):
        assert scan(cf.pgp_mime(text))[0].encrypted


@pytest.mark.parametrize(
    "armour",
    [
        "-----BEGIN PGP MESSAGE-----\r\n\r\n" + cf.CHILD + "\r\n-----END PGP MESSAGE-----\r\n",
        cf.armour(cf.CHILD.encode() * 3),
        cf.armour(cf.pgp_encrypted(ciphertext=(cf.CHILD * 3).encode())),
        cf.armour(cf.pgp_encrypted(ciphertext=zlib.compress((cf.CHILD * 30).encode()))),
        cf.armour(cf.pgp_signed_literal(cf.CHILD.encode())),
        cf.armour(cf.pgp_encrypted()).replace("-----END PGP MESSAGE-----", "-----END PGP SIGNATURE-----"),
        "-----BEGIN PGP MESSAGE-----\r\n" + cf.CHILD + "\r\n",
    ],
    ids=["text-inside", "base64-text", "seipd-with-text", "seipd-with-zlib", "signed-only", "no-end-line",
         "unterminated"],
)
def test_pgp_mime_without_ciphertext_is_a_false_claim(armour: str) -> None:
    """multipart/encrypted or PGP armour around anything but a proven encrypted message is a false claim."""
    state, extraction = scan(cf.pgp_mime(armour))
    assert not state.encrypted and extraction.false_encryption_claims


def test_pgp_armour_with_bad_checksum_is_a_false_claim() -> None:
    """A CRC-24 line that does not match the data: the armour was altered, nothing is proven."""
    text = cf.armour(cf.pgp_encrypted())
    lines = text.split("\r\n")
    crc_line = next(i for i, line in enumerate(lines) if line.startswith("=") and len(line) == 5)
    lines[crc_line] = "=AAAA" if lines[crc_line] != "=AAAA" else "=BBBB"
    assert scan(cf.pgp_mime("\r\n".join(lines)))[1].false_encryption_claims


def test_signed_only_pgp_message_is_read() -> None:
    """A 'PGP MESSAGE' that is only signed and compressed: its literal data is scanned."""
    state, extraction = scan(cf.pgp_mime(cf.armour(cf.pgp_signed_literal(cf.CHILD.encode()))))
    assert not state.encrypted and "943 476 5919" in text_of(extraction)


def test_inline_pgp_body() -> None:
    """Inline armour: a proven block is cut out and the text around it still read; a greeting and signature
    around it are readable content like any other (their sensitivity decides, not a character count)."""
    armour = cf.armour(cf.pgp_encrypted())
    state, extraction = scan(plain(body="Hi Nia,\r\n\r\n" + armour + "\r\nJane\r\n").as_bytes())
    assert state.encrypted and state.ciphertext and extraction.false_encryption_claims == ()
    body = text_of(extraction)
    assert "Hi Nia" in body and "BEGIN PGP" not in body
    state, extraction = scan(plain(body=cf.CHILD + "\r\n" + armour).as_bytes())
    assert state.ciphertext and "943 476 5919" in text_of(extraction)  # readable: decided as usual


@pytest.mark.parametrize(
    "body",
    [
        "-----BEGIN PGP MESSAGE-----\r\n" + cf.CHILD + "\r\n-----END PGP MESSAGE-----\r\n",
        "Hi,\r\n-----BEGIN PGP MESSAGE-----\r\nVersion: 1\r\n\r\n" + cf.CHILD + "\r\n-----END PGP MESSAGE-----\r\n",
        cf.armour((cf.CHILD * 2).encode()),
        "   -----BEGIN PGP MESSAGE-----   \r\n\r\n" + cf.CHILD + "\r\n   -----END PGP MESSAGE-----\r\n",
    ],
    ids=["lines-around-text", "with-headers", "base64-of-text", "indented"],
)
def test_inline_armour_around_readable_text_is_a_false_claim(body: str) -> None:
    """Armour lines typed around readable text: not encrypted, a false claim, and the text is read."""
    state, extraction = scan(plain(body=body).as_bytes())
    assert not state.encrypted and extraction.false_encryption_claims
    assert "943 476 5919" in text_of(extraction)


def test_quoted_armour_is_ordinary_text() -> None:
    """An armour block quoted in a reply ("> -----BEGIN") is neither proof nor claim: just text."""
    quoted = "".join("> " + line + "\r\n" for line in cf.armour(cf.pgp_encrypted()).splitlines())
    state, extraction = scan(plain(body="See below\r\n" + quoted).as_bytes())
    assert not state.encrypted and extraction.false_encryption_claims == ()


def test_pgp_files_by_content_not_name() -> None:
    """A .pgp attachment that is real OpenPGP is ciphertext; one that is a renamed text file is a false claim."""
    def attached(name: str, data: bytes) -> bytes:
        b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
        return (HEAD.format(subject="x") + 'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
                + "--m\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
                + f'--m\r\nContent-Type: application/octet-stream; name="{name}"\r\n'
                + "Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "--m--\r\n").encode()
    state, extraction = scan(attached("report.pdf.pgp", cf.pgp_encrypted()))
    assert state.encrypted and extraction.false_encryption_claims == ()
    state, extraction = scan(attached("report.pdf.gpg", cf.CHILD.encode()))
    assert not state.encrypted and extraction.false_encryption_claims and "943 476 5919" in text_of(extraction)
    state, extraction = scan(attached("report.bin", cf.pgp_encrypted(new_format=False)))
    assert state.encrypted  # an unnamed binary that is an OpenPGP encrypted message


# --- rpmsg -----------------------------------------------------------------------------------------------------


def test_rpmsg_container_is_proven() -> None:
    """A message.rpmsg with its signature, zlib blocks, DataSpaces and AES-ECB DRMContent is encrypted."""
    for plain_size in (100, 3000, 40_000):
        protected = (cf.CHILD * (plain_size // 60 + 1)).encode()[:plain_size] + bytes(plain_size)  # text + padding
        state, extraction = scan(cf.rpmsg_message(cf.rpmsg_container(protected)))
        assert state.encrypted and "rights-management protected message (rpmsg)" in state.evidence
        assert extraction.false_encryption_claims == ()


@pytest.mark.parametrize(
    "raw",
    [
        cf.rpmsg_message(cf.CHILD.encode()),
        cf.rpmsg_message(cf.rpmsg_container((cf.CHILD * 40).encode(), encrypt=False)),
        cf.rpmsg_message(cf.rpmsg_container((cf.CHILD * 50).encode(), with_dataspaces=False)),
        cf.rpmsg_message(cf.rpmsg_container((cf.CHILD * 50).encode())[:-20]),
        cf.rpmsg_message(cf.CHILD.encode(), content_class=False),
        cf.plain_message().replace(b"MIME-Version", b"Content-Class: rpmsg.message\r\nMIME-Version"),
    ],
    ids=["plain-attachment", "drmcontent-not-encrypted", "no-dataspaces", "truncated", "name-only",
         "header-only"],
)
def test_rpmsg_claims_without_container_are_false(raw: bytes) -> None:
    """A message.rpmsg name, the rpmsg type or Content-Class: rpmsg.message without a real container is a false
    claim, and whatever is readable is read."""
    state, extraction = scan(raw)
    assert not state.encrypted and extraction.false_encryption_claims


def test_ciphertext_deeper_than_the_message_is_unscannable() -> None:
    """An encrypted message inside a forwarded one is not this message's encryption: it is unreadable content
    (unscannable: encrypted), like a password-protected file."""
    inner = cf.smime_message().decode()
    raw = (HEAD.format(subject="fwd") + 'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
           + "--m\r\nContent-Type: text/plain\r\n\r\nForwarding.\r\n"
           + '--m\r\nContent-Type: message/rfc822; name="fwd.eml"\r\n\r\n' + inner + "\r\n--m--\r\n")
    state, extraction = scan(raw)
    assert not state.encrypted
    assert [u.reason for u in extraction.unscannable] == ["encrypted"], extraction.unscannable


def test_malformed_message_does_not_raise() -> None:
    """Broken headers and parameters degrade to "not encrypted" rather than an exception."""
    raw = b"Subject: =?utf-8?q?\xff\r\nContent-Type: application/pkcs7-mime; smime-type=\r\n\r\n\xff\xfe"
    state, _ = scan(raw)
    assert not state.encrypted
