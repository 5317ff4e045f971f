"""Already-encrypted detection: S/MIME, PGP, subject trigger, sensitivity labels."""

from __future__ import annotations

import base64
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from detectors.encryption import encryption_state
from detectors.headerutil import subject_has_trigger
from gateway.policy.config import PolicyConfig, load_policy
from gateway.scan import encryption_rules

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy(ROOT / "config" / "policy.yaml")
HEAD = "From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: a@example.org\r\nSubject: {subject}\r\n"
ENVELOPED_DER = bytes.fromhex("3080") + bytes.fromhex("06092a864886f70d010703") + b"\x00" * 40
SIGNED_DER = bytes.fromhex("3080") + bytes.fromhex("06092a864886f70d010702") + b"\x00" * 40


def parse(text: str | bytes) -> EmailMessage:
    raw = text.encode() if isinstance(text, str) else text
    return cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))


def plain(subject: str = "Hello", extra: str = "", body: str = "Hi\r\n") -> EmailMessage:
    return parse(HEAD.format(subject=subject) + extra + "Content-Type: text/plain\r\n\r\n" + body)


def p7m(smime_type: str | None, der: bytes) -> EmailMessage:
    param = f"; smime-type={smime_type}" if smime_type else ""
    b64 = base64.b64encode(der).decode()
    return parse(
        HEAD.format(subject="x")
        + f'Content-Type: application/pkcs7-mime{param}; name="smime.p7m"\r\n'
        + "Content-Transfer-Encoding: base64\r\n\r\n"
        + b64
        + "\r\n"
    )


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
    state = encryption_state(plain(subject), encryption_rules(POLICY))
    assert state.subject_trigger is trigger
    assert state.encrypted is trigger


def test_encoded_subject_trigger() -> None:
    """An RFC 2047 encoded subject is decoded before looking for the trigger."""
    subject = "=?utf-8?b?" + base64.b64encode("encrypt – café".encode()).decode() + "?="
    assert encryption_state(plain(subject), encryption_rules(POLICY)).subject_trigger


def test_configurable_triggers() -> None:
    """Trigger words come from the policy (e.g. an organisation using 'secure')."""
    policy = PolicyConfig.model_validate({"encrypt": {"triggers": ["secure"], "subject_tag": "[secure] "}})
    assert encryption_state(plain("SECURE: x"), encryption_rules(policy)).encrypted
    assert not encryption_state(plain("encrypt: x"), encryption_rules(policy)).encrypted


@pytest.mark.parametrize(
    ("smime_type", "der", "encrypted"),
    [
        ("enveloped-data", ENVELOPED_DER, True),
        ("authEnveloped-data", ENVELOPED_DER, True),
        ("signed-data", SIGNED_DER, False),
        (None, ENVELOPED_DER, True),
        (None, SIGNED_DER, False),
    ],
)
def test_smime(smime_type: str | None, der: bytes, encrypted: bool) -> None:
    """Enveloped S/MIME is encrypted; signed-only is not; without smime-type the DER decides."""
    assert encryption_state(p7m(smime_type, der), encryption_rules(POLICY)).encrypted is encrypted


def test_multipart_signed_is_not_encrypted() -> None:
    """A clear-signed S/MIME message is readable by anyone: not encrypted."""
    raw = (
        HEAD.format(subject="x")
        + 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b"\r\n'
        + "\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
        + "--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--b--\r\n"
    )
    assert not encryption_state(parse(raw), encryption_rules(POLICY)).encrypted


def test_pgp_mime() -> None:
    """PGP/MIME (multipart/encrypted) counts as encrypted."""
    raw = (
        HEAD.format(subject="x")
        + 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\r\n'
        + "\r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
        + "--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nx\r\n"
        + "-----END PGP MESSAGE-----\r\n--b--\r\n"
    )
    state = encryption_state(parse(raw), encryption_rules(POLICY))
    assert state.encrypted and "PGP/MIME" in state.evidence


def test_inline_pgp_and_quoted_armour() -> None:
    """An armoured body is encrypted; readable text with an armour block pasted in is not."""
    armour = "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n"
    assert encryption_state(plain(body="Hi,\r\n" + armour), encryption_rules(POLICY)).encrypted
    long_text = "The child's full history follows in plain text. " * 20
    assert not encryption_state(plain(body=long_text + armour), encryption_rules(POLICY)).encrypted


def test_plain_message_not_encrypted() -> None:
    """An ordinary message has no encryption evidence."""
    state = encryption_state(plain(), encryption_rules(POLICY))
    assert not state.encrypted and state.evidence == ()


def test_encrypting_label() -> None:
    """A sensitivity label configured as encrypting marks the message encrypted; others do not."""
    policy = PolicyConfig.model_validate({"sensitivity_labels": {"encrypting_labels": ["Official Sensitive Encrypt"]}})
    guid = "12345678-1234-1234-1234-123456789abc"
    label = (
        f"msip_labels: MSIP_Label_{guid}_Enabled=true; MSIP_Label_{guid}_SetDate=2024-01-01T10:00:00Z;"
        f" MSIP_Label_{guid}_Name=Official-Sensitive-Encrypt; MSIP_Label_{guid}_SiteId=abc\r\n"
    )
    assert encryption_state(plain(extra=label), encryption_rules(policy)).encrypted
    assert not encryption_state(plain(extra=label.replace("-Encrypt", "")), encryption_rules(policy)).encrypted
    assert not encryption_state(plain(extra=label.replace("Enabled=true", "Enabled=false")), encryption_rules(policy)).encrypted
    assert encryption_state(plain(extra="X-Sensitivity-Label: official sensitive encrypt\r\n"), encryption_rules(policy)).encrypted


def test_rpmsg_protected() -> None:
    """A rights-management protected message (message.rpmsg) is encrypted."""
    raw = (
        HEAD.format(subject="x")
        + 'Content-Class: rpmsg.message\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + '--b\r\nContent-Type: application/x-microsoft-rpmsg-message; name="message.rpmsg"\r\n\r\nAA\r\n--b--\r\n'
    )
    assert encryption_state(parse(raw), encryption_rules(POLICY)).encrypted


def test_malformed_message_does_not_raise() -> None:
    """Broken headers and parameters degrade to "not encrypted" rather than an exception."""
    raw = b"Subject: =?utf-8?q?\xff\r\nContent-Type: application/pkcs7-mime; smime-type=\r\n\r\n\xff\xfe"
    state = encryption_state(parse(raw), encryption_rules(POLICY))
    assert not state.encrypted
