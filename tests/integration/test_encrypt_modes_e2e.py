"""Encrypt modes through the running gateway: S/MIME (decrypted with openssl), S/MIME fallback, smarthost."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.integration.test_smime_roundtrip import _ca_and_recipient
from tests.smtp_fixtures import REPO, Upstream, send

SAMPLE = (REPO / "samples/policy/protected-info-fire.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
SENDER = "jane.smith@cafcass.gov.uk"
RCPT = "n.okafor@okafor-law.co.uk"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
async def test_smime_mode_encrypts_and_openssl_decrypts(gateway_factory, upstream: Upstream, tmp_path: Path) -> None:
    """Protected mail to a recipient with a certificate leaves as S/MIME that openssl decrypts to the original."""
    _, cert, key = _ca_and_recipient(RCPT)
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "okafor.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    app = await gateway_factory(
        {"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1}},
        policy={"encrypt": {"mode": "smime", "smime": {"cert_dir": str(certs)}}},
    )
    await asyncio.to_thread(send, app.port, SENDER, [RCPT], SAMPLE)
    got = upstream.handler.messages[0].data
    assert b"application/pkcs7-mime" in got and b"943 476 5919" not in got
    (tmp_path / "out.eml").write_bytes(got.split(b"\r\n", 3)[3])  # drop our Received line (3 lines)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "cms", "-decrypt", "-in", str(tmp_path / "out.eml"), "-recip",
                          str(tmp_path / "cert.pem"), "-inkey", str(tmp_path / "key.pem"), "-binary"],
                         capture_output=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    body = SAMPLE.split(b"\r\n\r\n", 1)[1]
    assert out.stdout.endswith(body)
    assert b"NHS number: 943 476 5919" in out.stdout


async def test_smime_without_certificate_falls_back(gateway_factory, upstream: Upstream, tmp_path: Path) -> None:
    """No certificate for the recipient: the configured fallback (quarantine) applies; nothing goes out."""
    empty = tmp_path / "nocerts"
    empty.mkdir()
    app = await gateway_factory(
        {"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
         "notifications": {"notify_sender_on_quarantine": False}},
        policy={"encrypt": {"mode": "smime", "smime": {"cert_dir": str(empty), "fallback": "quarantine"}}},
    )
    import smtplib

    def run() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", app.port, timeout=60) as c:
            c.ehlo("x")
            c.mail(SENDER)
            c.rcpt(RCPT)
            return c.data(SAMPLE)

    code, text = await asyncio.to_thread(run)
    assert code == 250 and b"held for review" in text
    assert upstream.handler.messages == []


async def test_smarthost_mode_relays_via_encryption_host(gateway_factory, upstream: Upstream) -> None:
    """Encrypt mode smarthost: the normal upstream transaction is reset and the message goes to the encryption
    host with the same envelope; clean mail still goes to the normal upstream."""
    smarthost = Upstream()
    await smarthost.start()
    try:
        app = await gateway_factory(
            {"upstream": {"url": upstream.url, "encryption_smarthost": smarthost.url},
             "scan": {"enabled": True, "workers": 1}},
            policy={"encrypt": {"mode": "smarthost"}},
        )
        await asyncio.to_thread(send, app.port, SENDER, [RCPT], SAMPLE)
        benign = (REPO / "samples/policy/protected-info-near-miss-benign.eml").read_bytes()
        benign = benign.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        await asyncio.to_thread(send, app.port, SENDER, ["d.harris@northfield-venues.co.uk"], benign)
        assert len(smarthost.handler.messages) == 1
        enc = smarthost.handler.messages[0]
        assert enc.mail_from == SENDER and enc.rcpt_tos == [RCPT] and enc.data.endswith(SAMPLE)
        assert len(upstream.handler.messages) == 1
        assert upstream.handler.messages[0].rcpt_tos == ["d.harris@northfield-venues.co.uk"]
    finally:
        await smarthost.stop()
