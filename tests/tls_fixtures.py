"""Certificates made in the test (cryptography): a CA, server certificates it issues, client certificates for
mutual TLS, and an smtplib client that presents one over STARTTLS."""

from __future__ import annotations

import datetime
import ipaddress
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dlpgate tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


@dataclass
class CertAuthority:
    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    path: Path

    @classmethod
    def create(cls, folder: Path, name: str) -> CertAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name.replace(' ', '_')}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(name, key, cert, path)

    def issue(self, folder: Path, stem: str, *, cn: str, dns: list[str], client: bool,
              ips: tuple[str, ...] = ()) -> tuple[Path, Path]:
        """A leaf certificate (server or client use) and its key, written as ``stem.crt`` / ``stem.key``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                  else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        folder.mkdir(parents=True, exist_ok=True)
        crt, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return crt, key_path


def served_certificate(port: int, ca: Path) -> x509.Certificate:
    """The certificate the gateway presents after STARTTLS to a new connection."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as c:
        c.ehlo("probe.test")
        c.starttls(context=ctx)
        der = c.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
    assert der is not None
    return x509.load_der_x509_certificate(der)


def send_tls(port: int, server_ca: Path, data: bytes, *, client: tuple[Path, Path] | None,
             source: str = "127.0.0.2", mail_from: str = "alice@cafcass.gov.uk",
             rcpts: tuple[str, ...] = ("n.okafor@okafor-law.co.uk",)) -> dict[str, tuple[int, bytes]]:
    """smtplib over STARTTLS from ``source``, presenting ``client`` (cert, key) when given; raises smtplib's
    exceptions (or ssl/OS errors when the server ends the handshake)."""
    ctx = ssl.create_default_context(cafile=str(server_ca))
    ctx.check_hostname = False
    if client is not None:
        ctx.load_cert_chain(str(client[0]), str(client[1]))
    with smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=15) as c:
        c.ehlo("outbound.protection.test")
        c.starttls(context=ctx)
        c.ehlo("outbound.protection.test")
        return c.sendmail(mail_from, list(rcpts), data)
