"""DKIM signing of changed mail (issue 17), through real SMTP: the gateway tags the subject (or envelopes the
message in S/MIME), signs what it sends, and the signature verifies with dkimpy against the test's public key."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from structlog.testing import capture_logs

from gateway.actions.dkim import DkimError, sign
from gateway.config import DkimSettings
from tests.integration.test_smime_roundtrip import _ca_and_recipient
from tests.smtp_fixtures import REPO, Upstream, send

SAMPLE = (REPO / "samples/policy/protected-info-fire.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
SENDER = "jane.smith@cafcass.gov.uk"
RCPT = "n.okafor@okafor-law.co.uk"


def _keypair(tmp_path: Path) -> tuple[Path, bytes]:
    """A private key file for the gateway and the DNS TXT record a receiver would look up."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def _dns(record: bytes, expected: str) -> Any:
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name.decode().rstrip(".") == expected else None

    return lookup


@pytest.mark.parametrize("mode", ["subject_tag", "smime"])
async def test_changed_mail_is_signed_and_verifies(gateway_factory, upstream: Upstream, tmp_path: Path,
                                                   mode: str) -> None:
    key_file, record = _keypair(tmp_path)
    policy: dict[str, Any] = {"encrypt": {"mode": mode}}
    if mode == "smime":
        _, cert, _ = _ca_and_recipient(RCPT)
        certs = tmp_path / "certs"
        certs.mkdir()
        (certs / "okafor.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        policy["encrypt"]["smime"] = {"cert_dir": str(certs)}
    with capture_logs() as logs:
        app = await gateway_factory(
            {"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
             "dkim": {"enabled": True, "domain": "cafcass.gov.uk", "selector": "dlp2026", "key_file": str(key_file)}},
            policy=policy,
        )
        await asyncio.to_thread(send, app.port, SENDER, [RCPT], SAMPLE)
    got = upstream.handler.messages[0].data
    if mode == "subject_tag":
        assert b"[encrypt]" in got.split(b"\r\n\r\n", 1)[0].lower() or b"Subject: [" in got
    else:
        assert b"application/pkcs7-mime" in got
    assert b"DKIM-Signature:" in got and b"d=cafcass.gov.uk" in got and b"s=dlp2026" in got
    assert dkim.verify(got, dnsfunc=_dns(record, "dlp2026._domainkey.cafcass.gov.uk"))
    tampered = got.replace(b"\r\n\r\n", b"\r\n\r\nX", 1)
    assert not dkim.verify(tampered, dnsfunc=_dns(record, "dlp2026._domainkey.cafcass.gov.uk"))
    key_text = key_file.read_text()
    assert all(key_text.splitlines()[1] not in str(e) for e in logs)


async def test_unchanged_mail_is_not_signed(gateway_factory, upstream: Upstream, tmp_path: Path) -> None:
    """Mail relayed as it came keeps the sender's own signature; the gateway adds none."""
    key_file, _ = _keypair(tmp_path)
    app = await gateway_factory(
        {"upstream": {"url": upstream.url},
         "dkim": {"enabled": True, "domain": "cafcass.gov.uk", "selector": "s", "key_file": str(key_file)}},
    )
    from tests.smtp_fixtures import MESSAGE

    await asyncio.to_thread(send, app.port, "a@cafcass.gov.uk", ["b@cafcass.gov.uk"], MESSAGE)
    assert b"DKIM-Signature" not in upstream.handler.messages[0].data


def test_bad_key_names_the_file_not_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END RSA PRIVATE KEY-----\n")
    settings = DkimSettings(enabled=True, domain="example.org", selector="s", key_file=bad)
    with pytest.raises(DkimError) as exc:
        sign(SAMPLE, settings, bad)
    assert str(bad) in str(exc.value) and "c2VjcmV0" not in str(exc.value)
    with pytest.raises(DkimError, match="cannot be read"):
        sign(SAMPLE, settings, tmp_path / "missing.key")


def test_check_config_tries_the_key(tmp_path: Path) -> None:
    """A key that cannot sign is reported by check-config (file and key named), not at the first changed message."""
    import subprocess
    import sys

    from tests.smtp_fixtures import make_config

    def check(key: Path) -> subprocess.CompletedProcess[str]:
        cfg = make_config(tmp_path, {"dkim": {"enabled": True, "domain": "cafcass.gov.uk", "selector": "s",
                                              "key_file": str(key)}})
        return subprocess.run([sys.executable, "-m", "gateway.cli", "check-config", "--config", str(cfg),
                               "--no-samples"], capture_output=True, text=True, timeout=120)

    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    out = check(bad)
    assert out.returncode == 2
    assert "gateway.yaml: dkim.key_file: cannot sign with dkim.key_file" in out.stderr
    assert "not a key" not in out.stderr
    good, _ = _keypair(tmp_path)
    assert check(good).returncode == 0
