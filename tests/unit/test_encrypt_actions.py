"""Encrypt actions on bytes (subject tag, S/MIME envelope, certificate folder) and the X-DLP headers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from detectors.encryption import encryption_state
from detectors.findings import Finding, RecipientInfo, Sensitivity
from gateway.actions.encrypt import CertificateDirectory, add_subject_tag, smime_encrypt
from gateway.actions.tag import dlp_headers
from gateway.facts import ScanResult
from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.policy.config import PolicyConfig
from gateway.policy.model import Action, Decision, RuleHit
from gateway.scan import encryption_rules

TRIGGERS = ("encrypt",)
TAG = "[encrypt] "
RAW = (
    b"Received: from a by b; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    b"From: Jane Smith <jane.smith@cafcass.gov.uk>\r\n"
    b"To: solicitor@lawfirm.co.uk\r\n"
    b"Subject: Court report\r\n"
    b"Message-ID: <1@cafcass.gov.uk>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Subject: not a header\r\nBody line\r\n"
)


def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))


def test_tag_prepends_once_and_changes_nothing_else() -> None:
    """The tag goes in front of the subject once; every other byte is unchanged; tagging is idempotent."""
    out = add_subject_tag(RAW, TAG, TRIGGERS)
    assert out == RAW.replace(b"Subject: Court report", b"Subject: [encrypt] Court report", 1)
    assert add_subject_tag(out, TAG, TRIGGERS) == out


@pytest.mark.parametrize("subject", [b"encrypt court report", b"RE: Encrypt: x", b"FW: [ENCRYPT] x"])
def test_tag_not_added_when_trigger_present(subject: bytes) -> None:
    """A subject that already asks for encryption is left alone."""
    raw = RAW.replace(b"Court report", subject, 1)
    assert add_subject_tag(raw, TAG, TRIGGERS) == raw


def test_tag_encoded_subject() -> None:
    """An RFC 2047 subject keeps its encoded words and decodes to the tag plus the original text."""
    enc = b"=?utf-8?b?" + __import__("base64").b64encode("Café report – Siân".encode()) + b"?="
    raw = RAW.replace(b"Subject: Court report", b"Subject: " + enc, 1)
    out = add_subject_tag(raw, TAG, TRIGGERS)
    assert parse(out)["Subject"] == "[encrypt] Café report – Siân"
    assert out.replace(b"[encrypt] ", b"", 1) == raw


def test_tag_folded_and_empty_and_missing_subject() -> None:
    """Folded, empty and missing subjects all end up tagged, with the rest of the message intact."""
    folded = RAW.replace(b"Subject: Court report", b"Subject:\r\n =?utf-8?q?Court_report?=", 1)
    assert parse(add_subject_tag(folded, TAG, TRIGGERS))["Subject"] == "[encrypt] Court report"
    empty = RAW.replace(b"Subject: Court report", b"Subject:", 1)
    assert b"Subject: [encrypt]\r\n" in add_subject_tag(empty, TAG, TRIGGERS)
    missing = RAW.replace(b"Subject: Court report\r\n", b"", 1)
    out = add_subject_tag(missing, TAG, TRIGGERS)
    assert parse(out)["Subject"] == "[encrypt]"
    assert out.endswith(b"\r\n\r\nSubject: not a header\r\nBody line\r\n")
    lf = missing.replace(b"\r\n", b"\n")
    assert b"Subject: [encrypt]\n\n" in add_subject_tag(lf, TAG, TRIGGERS)


@pytest.mark.parametrize(
    "subject",
    [
        b"=?utf-8?q?encrypt?= notes",
        b"=?utf-8?b?ZW5jcnlwdCByZXBvcnQ=?=",
        b"RE: =?us-ascii?Q?=5Bencrypt=5D?= report",
        b"=?utf-8?q?encrypt?=\r\n =?utf-8?q?_notes?=",
    ],
)
def test_encoded_trigger_gets_the_plain_tag(subject: bytes) -> None:
    """A trigger that only decoding reveals is no trigger to the service matching the raw header: the plain
    tag is added in front, and detection then sees the trigger on the raw value (issue 12, section 4)."""
    raw = RAW.replace(b"Court report", subject, 1)
    assert not encryption_state(parse(raw), encryption_rules(PolicyConfig())).subject_trigger
    out = add_subject_tag(raw, TAG, TRIGGERS)
    assert out == raw.replace(b"Subject: ", b"Subject: [encrypt] ", 1)
    assert encryption_state(parse(out), encryption_rules(PolicyConfig())).subject_trigger
    assert add_subject_tag(out, TAG, TRIGGERS) == out


def test_tagged_subject_is_seen_as_trigger() -> None:
    """After tagging, the encryption detector sees the trigger (so a second pass changes nothing)."""
    out = add_subject_tag(RAW, TAG, TRIGGERS)
    assert encryption_state(parse(out), encryption_rules(PolicyConfig())).subject_trigger


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=60))
def test_tag_any_subject_roundtrip(subject: str) -> None:
    """For any subject text, tagging adds exactly the tag and never touches the body."""
    from email.header import Header

    encoded = Header(subject, "utf-8").encode().encode() if subject.strip() else b"x"
    raw = RAW.replace(b"Subject: Court report", b"Subject: " + encoded, 1)
    out = add_subject_tag(raw, TAG, TRIGGERS)
    assert out.endswith(b"\r\n\r\nSubject: not a header\r\nBody line\r\n")
    assert add_subject_tag(out, TAG, TRIGGERS) == out
    assert len(out) - len(raw) in (0, len(TAG))


def make_cert(
    email_addr: str,
    *,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    days: int = 30,
    start: int = -1,
    eku: bool = True,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=start))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email_addr)]), critical=False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
    return builder.sign(key, hashes.SHA256()), key


def test_smime_keeps_routing_headers_and_hides_content() -> None:
    """The envelope keeps From/To/Subject/Message-ID outside and puts Content-* and the body inside."""
    cert, _ = make_cert("solicitor@lawfirm.co.uk")
    out = smime_encrypt(RAW, [cert])
    msg = parse(out)
    assert msg["From"] and msg["To"] == "solicitor@lawfirm.co.uk" and msg["Subject"] == "Court report"
    assert msg["Message-ID"] == "<1@cafcass.gov.uk>" and msg["Received"]
    assert msg.get_content_type() == "application/pkcs7-mime"
    assert msg.get_param("smime-type") == "enveloped-data"
    assert b"Body line" not in out and b"charset=utf-8" not in out
    assert out.count(b"MIME-Version") == 1
    proofs = [n.detail for n in extract(msg, ExtractionLimits()).ciphertext]
    assert proofs == ["S/MIME enveloped data (1 recipient)"]
    assert encryption_state(msg, encryption_rules(PolicyConfig()), proofs).encrypted
    with pytest.raises(ValueError, match="no recipient"):
        smime_encrypt(RAW, [])


def test_certificate_directory(tmp_path: Path) -> None:
    """Certificates are indexed by email; unusable, expired and unreadable ones are skipped with a reason."""
    good, _ = make_cert("Solicitor@LawFirm.co.uk")
    expired, _ = make_cert("old@lawfirm.co.uk", days=-1, start=-30)
    ecc, _ = make_cert("ec@lawfirm.co.uk", key=ec.generate_private_key(ec.SECP256R1()))
    pem = serialization.Encoding.PEM
    (tmp_path / "good.pem").write_bytes(good.public_bytes(pem) + expired.public_bytes(pem))
    (tmp_path / "ec.crt").write_bytes(ecc.public_bytes(pem))
    (tmp_path / "der.cer").write_bytes(good.public_bytes(serialization.Encoding.DER))
    (tmp_path / "junk.pem").write_bytes(b"not a cert")
    (tmp_path / "README").write_text("ignored")
    d = CertificateDirectory.load(tmp_path)
    assert d.get("solicitor@lawfirm.co.uk") == good
    assert "<SOLICITOR@lawfirm.co.uk>" in d
    assert d.get("old@lawfirm.co.uk") is None
    assert d.get("ec@lawfirm.co.uk") is None
    assert any("ec.crt" in p and "RSA" in p for p in d.problems)
    assert any("junk.pem" in p for p in d.problems)
    later = CertificateDirectory.load(tmp_path, clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=60))
    assert later.get("solicitor@lawfirm.co.uk") is None


def test_dlp_headers_types_only() -> None:
    """X-DLP headers carry decision, rule ids, sensitivity and entity counts, never values or line breaks."""
    hit = RuleHit("protected-info-unencrypted", "IA 4.5", Action.ENCRYPT, "enforce", "r")
    decision = Decision(Action.ENCRYPT, hits=(hit,), encrypt_mode="subject_tag")
    fx = ScanResult(
        sender="jane.smith@cafcass.gov.uk",
        recipients=(RecipientInfo("a@b.co.uk", "external"),),
        findings=(
            Finding("UK_NHS", 0.9, "body", 0, 10, "nhs", "*** 5919", text="943 476 5919"),
            Finding("UK_NHS", 0.9, "body", 20, 30, "nhs", "*** 5920", text="943 476 5920"),
            Finding("EVIL\r\nBcc: x@y", 0.9, "body", 0, 1, "x", "*"),
        ),
        sensitivity=Sensitivity.PERSONAL,
    )
    headers = dict(dlp_headers(decision, fx))
    assert headers["X-DLP-Decision"] == "encrypt"
    assert headers["X-DLP-Rules"] == "protected-info-unencrypted"
    assert headers["X-DLP-Sensitivity"] == "personal"
    assert "UK_NHS=2" in headers["X-DLP-Entities"]
    for value in headers.values():
        assert "\r" not in value and "\n" not in value and "5919" not in value
    empty = dict(dlp_headers(Decision(Action.PASS), ScanResult(sender="", recipients=())))
    assert empty["X-DLP-Rules"] == "none" and empty["X-DLP-Entities"] == "none"


def test_tag_without_trailing_space_still_separates() -> None:
    """A tag configured without a trailing space is still followed by one."""
    out = add_subject_tag(RAW, "[encrypt]", TRIGGERS)
    assert b"Subject: [encrypt] Court report\r\n" in out
    assert b"Subject: [encrypt] x\r\n" in add_subject_tag(
        RAW.replace(b"Subject: Court report", b"Subject:x"), TAG, TRIGGERS
    )


def test_subject_tag_must_be_ascii_trigger() -> None:
    """The configured tag must be ASCII and start with a trigger, or tagging could repeat forever."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        PolicyConfig.model_validate({"encrypt": {"subject_tag": "[chiffré] "}})
    with pytest.raises(ValidationError):
        PolicyConfig.model_validate({"encrypt": {"subject_tag": "[secure] "}})
