"""Real and forged encrypted content for the encryption-claim tests (issue 12, section 1).

Real: S/MIME enveloped with ``cryptography`` (the same builder the gateway's S/MIME mode uses) or the
``openssl`` command, OpenPGP with ``gpg`` in a throw-away home directory. Synthetic but well-formed: OpenPGP
packet streams built byte by byte with random ciphertext (every header form the standard allows), and rpmsg
containers with the MS-OXORMMS layout around a real AES-128-ECB body (no rights-management server offline).
Forged: the same shapes with plain text where the ciphertext belongs.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

HEAD = (
    "From: Jane Smith <jane.smith@cafcass.gov.uk>\r\n"
    "To: Nia Okafor <n.okafor@okafor-law.co.uk>\r\n"
    "Subject: {subject}\r\n"
    "Message-ID: <{mid}@cafcass.gov.uk>\r\n"
    "MIME-Version: 1.0\r\n"
)
CHILD = "Amelia Brown (born 14/03/2015), NHS number 943 476 5919, case ZW24C50123"
"""Protected information that must never leave unencrypted: a child's name, date of birth, NHS and case number."""


# --- S/MIME --------------------------------------------------------------------------------------------------


@functools.cache
def rsa_cert(email: str = "n.okafor@okafor-law.co.uk") -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed RSA certificate for ``email`` (cached: key generation is the slow part)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test"), x509.NameAttribute(NameOID.EMAIL_ADDRESS, email)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def plain_message(subject: str = "Court report", body: str = "Dear Nia,\r\nThe report is below.\r\n" + CHILD,
                  mid: str = "plain") -> bytes:
    return (HEAD.format(subject=subject, mid=mid) + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
            + "\r\n").encode()


def smime_message(subject: str = "Court report", mid: str = "smime") -> bytes:
    """The plain message enveloped for one recipient by the gateway's own S/MIME builder (cryptography)."""
    from gateway.actions.encrypt import smime_encrypt

    return smime_encrypt(plain_message(subject, mid=mid), [rsa_cert()[0]])


def openssl_smime(tmp: Path, subject: str = "Court report", *, cipher: str = "-aes256") -> bytes:
    """The plain message enveloped by ``openssl smime -encrypt`` (headers From/To/Subject outside)."""
    cert, _ = rsa_cert()
    (tmp / "rcpt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "in.txt").write_bytes(b"Content-Type: text/plain\r\n\r\n" + CHILD.encode() + b"\r\n")
    done = subprocess.run(
        ["openssl", "smime", "-encrypt", cipher, "-in", str(tmp / "in.txt"), "-from", "jane.smith@cafcass.gov.uk",
         "-to", "n.okafor@okafor-law.co.uk", "-subject", subject, str(tmp / "rcpt.pem")],
        capture_output=True, check=True, timeout=60,
    )
    return done.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def openssl_cms_ec_gcm(tmp: Path, subject: str = "Court report") -> bytes:
    """``openssl cms -encrypt -aes-256-gcm`` to an EC certificate: AuthEnvelopedData with a key-agreement
    recipient (kari), the other CMS shapes a real client sends."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "n.okafor@okafor-law.co.uk")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    (tmp / "ec.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "in-ec.txt").write_bytes(b"Content-Type: text/plain\r\n\r\n" + CHILD.encode() + b"\r\n")
    done = subprocess.run(
        ["openssl", "cms", "-encrypt", "-aes-256-gcm", "-in", str(tmp / "in-ec.txt"), "-from",
         "jane.smith@cafcass.gov.uk", "-to", "n.okafor@okafor-law.co.uk", "-subject", subject, str(tmp / "ec.pem")],
        capture_output=True, check=True, timeout=60,
    )
    return done.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def smime_shaped(body: str, *, smime_type: str = "enveloped-data", subject: str = "Court report") -> bytes:
    """A top-level ``application/pkcs7-mime`` whose "encrypted" body is plain text (a false claim)."""
    return (HEAD.format(subject=subject, mid="fake-smime")
            + f'Content-Type: application/pkcs7-mime; smime-type={smime_type}; name="smime.p7m"\r\n'
            + 'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n' + body + "\r\n").encode()


def fake_enveloped_der(content: bytes) -> bytes:
    """A CMS EnvelopedData that parses (one ktri recipient) but whose encrypted content is ``content``."""
    def tlv(tag: int, value: bytes) -> bytes:
        n = len(value)
        length = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([tag]) + length + value

    def oid(hexs: str) -> bytes:  # a DER OID with its tag
        return bytes.fromhex(hexs)

    rsa_alg = tlv(0x30, oid("06092a864886f70d010101") + b"\x05\x00")
    issuer_serial = tlv(0x30, tlv(0x30, b"") + tlv(0x02, b"\x01"))
    ktri = tlv(0x30, tlv(0x02, b"\x00") + issuer_serial + rsa_alg + tlv(0x04, os.urandom(256)))
    aes = tlv(0x30, oid("0609608648016503040102") + tlv(0x04, os.urandom(16)))
    eci = tlv(0x30, oid("06092a864886f70d010701") + aes + tlv(0x80, content))
    enveloped = tlv(0x30, tlv(0x02, b"\x00") + tlv(0x31, ktri) + eci)
    return tlv(0x30, oid("06092a864886f70d010703") + tlv(0xA0, enveloped))


# --- OpenPGP (synthetic packets) -----------------------------------------------------------------------------


def packet(tag: int, body: bytes, *, new_format: bool = True, partial: bool = False) -> bytes:
    """One OpenPGP packet; ``partial`` splits the body with partial body lengths (new format only)."""
    if not new_format:
        size = len(body)
        kind, width = (0, 1) if size < 256 else (1, 2) if size < 65536 else (2, 4)
        return bytes([0x80 | (tag << 2) | kind]) + size.to_bytes(width, "big") + body
    header = bytes([0xC0 | tag])
    if partial:
        chunk = 512
        out = bytearray(header)
        rest = body
        while len(rest) > chunk:
            out += bytes([0xE0 | 9]) + rest[:chunk]
            rest = rest[chunk:]
        return bytes(out + _new_length(len(rest)) + rest)
    return header + _new_length(len(body)) + body


def _new_length(n: int) -> bytes:
    if n < 192:
        return bytes([n])
    if n < 8384:
        n -= 192
        return bytes([(n >> 8) + 192, n & 0xFF])
    return b"\xff" + n.to_bytes(4, "big")


def pkesk() -> bytes:
    return b"\x03" + os.urandom(8) + b"\x01" + b"\x08\x00" + os.urandom(256)


def skesk() -> bytes:
    return b"\x04\x09\x03\x08" + os.urandom(8) + b"\x60"


def pgp_encrypted(*, session: str = "pkesk", data_tag: int = 18, new_format: bool = True, partial: bool = False,
                  size: int = 400, ciphertext: bytes | None = None) -> bytes:
    """A session-key packet and an encrypted data packet with random (or the given) ciphertext."""
    key = packet(1, pkesk(), new_format=new_format) if session == "pkesk" else packet(3, skesk(), new_format=new_format)
    cipher = ciphertext if ciphertext is not None else os.urandom(size)
    body = {18: b"\x01" + cipher, 9: cipher, 20: b"\x01\x09\x02\x10" + os.urandom(15) + cipher}[data_tag]
    # Old-format headers hold tags 0-15 only: SEIPD (18) and AEAD (20) always use the new format, as gpg writes.
    return key + packet(data_tag, body, new_format=new_format or data_tag >= 16, partial=partial)


def pgp_signed_literal(text: bytes, name: bytes = b"note.txt") -> bytes:
    """An unencrypted OpenPGP message: compressed(literal data), as ``gpg --sign`` makes (signature left out)."""
    literal = packet(11, b"b" + bytes([len(name)]) + name + b"\x00\x00\x00\x00" + text)
    return packet(8, b"\x02" + zlib.compress(literal))


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armour(data: bytes, label: str = "MESSAGE", *, checksum: bool = True, headers: tuple[str, ...] = ()) -> str:
    b64 = base64.b64encode(data).decode()
    lines = [f"-----BEGIN PGP {label}-----", *headers, ""]
    lines += [b64[i : i + 64] for i in range(0, len(b64), 64)]
    if checksum:
        lines.append("=" + base64.b64encode(crc24(data).to_bytes(3, "big")).decode())
    lines.append(f"-----END PGP {label}-----")
    return "\r\n".join(lines) + "\r\n"


# --- OpenPGP (real, gpg) -------------------------------------------------------------------------------------

GPG = shutil.which("gpg")


class Gpg:
    """gpg with its own home directory and one key (ed25519 signing, cv25519 encryption) for ``email``."""

    def __init__(self, home: Path, email: str = "n.okafor@okafor-law.co.uk") -> None:
        assert GPG is not None
        self.home = home
        self.email = email
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        self.run("--passphrase", "", "--quick-gen-key", f"Nia Okafor <{email}>", "future-default", "default", "1d")

    def run(self, *args: str, data: bytes = b"") -> bytes:
        env = dict(os.environ, GNUPGHOME=str(self.home))
        done = subprocess.run([GPG or "gpg", "--batch", "--yes", "--pinentry-mode", "loopback", *args], input=data,
                              capture_output=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def encrypt(self, data: bytes, *, armor: bool = True) -> bytes:
        return self.run("--trust-model", "always", "-r", self.email, *(["-a"] if armor else []), "-e", data=data)

    def symmetric(self, data: bytes, *, armor: bool = True) -> bytes:
        return self.run("--passphrase", "pw", *(["-a"] if armor else []), "-c", data=data)

    def sign(self, data: bytes, *, armor: bool = True) -> bytes:
        return self.run("--passphrase", "", "-u", self.email, *(["-a"] if armor else []), "-s", data=data)

    def detach_sign(self, data: bytes) -> bytes:
        return self.run("--passphrase", "", "-u", self.email, "-a", "--detach-sign", data=data)


def pgp_mime(encrypted_armour: str, *, subject: str = "Court report", mid: str = "pgpmime") -> bytes:
    """A PGP/MIME message (RFC 3156) around an armoured encrypted part."""
    return (HEAD.format(subject=subject, mid=mid)
            + 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="pgp"\r\n\r\n'
            + "--pgp\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
            + '--pgp\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n'
            + encrypted_armour + "\r\n--pgp--\r\n").encode()


# --- rpmsg ---------------------------------------------------------------------------------------------------

RPMSG_MAGIC = b"\x76\xe8\x04\x60\xc4\x11\xe3\x86"


def rpmsg_container(plain: bytes, *, encrypt: bool = True, with_dataspaces: bool = True) -> bytes:
    """An rpmsg file: signature, 4 KiB zlib blocks (0x0FA0 headers) of a compound file holding
    ``\\x06DataSpaces`` and ``\\x09DRMContent`` (plaintext length + AES-128-ECB body, or the plain body)."""
    from extract_msg import OleWriter

    padded = plain + b"\x00" * (-len(plain) % 16)
    if encrypt:
        encryptor = Cipher(algorithms.AES(os.urandom(16)), modes.ECB()).encryptor()
        body = encryptor.update(padded) + encryptor.finalize()
    else:
        body = padded
    writer = OleWriter()
    if with_dataspaces:
        writer.addEntry("\x06DataSpaces/Version", b"\x08\x00\x00\x00" + "Microsoft.Container.DataSpaces".encode("utf-16-le"))
        writer.addEntry("\x06DataSpaces/TransformInfo/\x09DRMTransform/\x06Primary", b"XrML licence placeholder")
    writer.addEntry("\x09DRMContent", struct.pack("<Q", len(plain)) + body)
    out = io.BytesIO()
    writer.write(out)
    container = out.getvalue()
    blocks = bytearray(RPMSG_MAGIC)
    for start in range(0, len(container), 4096):
        chunk = container[start : start + 4096]
        deflated = zlib.compress(chunk)
        blocks += struct.pack("<III", 0x0FA0, len(chunk), len(deflated)) + deflated
    return bytes(blocks)


def rpmsg_message(attachment: bytes, *, content_class: bool = True, subject: str = "Court report",
                  name: str = "message.rpmsg") -> bytes:
    """The wrapper message Exchange sends for a protected message: one message.rpmsg attachment."""
    b64 = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    return (HEAD.format(subject=subject, mid="rpmsg")
            + ("Content-Class: rpmsg.message\r\n" if content_class else "")
            + 'Content-Type: multipart/mixed; boundary="rp"\r\n\r\n'
            + "--rp\r\nContent-Type: text/plain\r\n\r\nThis message is protected with Microsoft Purview.\r\n"
            + f'--rp\r\nContent-Type: application/x-microsoft-rpmsg-message; name="{name}"\r\n'
            + f'Content-Disposition: attachment; filename="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + b64 + "--rp--\r\n").encode()
