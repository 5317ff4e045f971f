"""S/MIME envelope made by smime_encrypt decrypts with OpenSSL back to the original content."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.actions.encrypt import CertificateDirectory, smime_encrypt

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

MESSAGE = (
    "From: Jane Smith <jane.smith@cafcass.gov.uk>\r\n"
    "To: Sam Solicitor <sam@lawfirm.example>, Tom Jones <tom.jones@cafcass.gov.uk>\r\n"
    "Cc: clerk@lawfirm.example\r\n"
    "Date: Mon, 15 Jan 2024 10:00:00 +0000\r\n"
    "Subject: Court report\r\n"
    "Message-ID: <roundtrip-1@cafcass.gov.uk>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
    "\r\n"
    "--XYZ\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Dear Sam,\r\nPlease find the report for case ZW24C50123 attached. Siân\r\n"
    "--XYZ\r\n"
    'Content-Type: application/octet-stream; name="report.bin"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQFBgcICQ==\r\n"
    "--XYZ--\r\n"
).encode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca_and_recipient(email_addr: str) -> tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]:
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Test CA"))
        .issuer_name(_name("Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, "Sam"), x509.NameAttribute(NameOID.EMAIL_ADDRESS, email_addr)]
            )
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email_addr)]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca, cert, key


def test_openssl_decrypts_to_original_content(tmp_path: Path) -> None:
    """Each recipient's key decrypts the envelope to the original MIME content, byte for byte."""
    _, cert1, key1 = _ca_and_recipient("sam@lawfirm.example")
    _, cert2, key2 = _ca_and_recipient("clerk@lawfirm.example")
    certs_dir = tmp_path / "certs"
    certs_dir.mkdir()
    (certs_dir / "sam.pem").write_bytes(cert1.public_bytes(serialization.Encoding.PEM))
    (certs_dir / "clerk.pem").write_bytes(cert2.public_bytes(serialization.Encoding.PEM))
    directory = CertificateDirectory.load(certs_dir)
    found = [directory.get(a) for a in ("sam@lawfirm.example", "clerk@lawfirm.example")]
    assert all(found)

    out = smime_encrypt(MESSAGE, [c for c in found if c is not None])
    (tmp_path / "out.eml").write_bytes(out)
    head = out.split(b"\r\n\r\n", 1)[0]
    for name in (b"From:", b"To:", b"Cc:", b"Date:", b"Subject:", b"Message-ID:"):
        assert name in head
    assert b"ZW24C50123" not in out

    header_end = MESSAGE.index(b"\r\n\r\n")
    expected_inner = b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n' + MESSAGE[header_end + 4 :]
    for i, (cert, key) in enumerate(((cert1, key1), (cert2, key2))):
        (tmp_path / f"c{i}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp_path / f"k{i}.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        result = subprocess.run(
            [
                "openssl",
                "cms",
                "-decrypt",
                "-in",
                str(tmp_path / "out.eml"),
                "-recip",
                str(tmp_path / f"c{i}.pem"),
                "-inkey",
                str(tmp_path / f"k{i}.pem"),
                "-binary",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout == expected_inner
