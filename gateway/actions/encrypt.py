"""The byte-level work of the ``encrypt`` action: tag the subject, or envelope the message in S/MIME.

Both are pure functions of bytes so the relay can call them at the last moment and tests can check them
byte for byte. ``add_subject_tag`` changes only the Subject line(s) and leaves every other byte as it was
(the relay's promise: we change nothing we do not have to). ``smime_encrypt`` keeps the routing headers
outside (so the message still routes and threads) and moves the content headers and body inside.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from detectors.headerutil import subject_has_trigger, unfold


@dataclass(frozen=True, slots=True)
class _Header:
    name: str
    start: int
    end: int
    """``head[start:end]`` is the whole field, folded lines and final line break included."""


def _split(raw: bytes) -> tuple[bytes, bytes]:
    """(header block including its last line break, rest starting at the blank line)."""
    if raw.startswith((b"\r\n", b"\n")):
        return b"", raw
    candidates = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    if not candidates:
        return raw, b""
    i = min(candidates)
    cut = i + (2 if raw[i : i + 4] == b"\r\n\r\n" else 1)
    return raw[:cut], raw[cut:]


def _fields(head: bytes) -> list[_Header]:
    out: list[_Header] = []
    pos = 0
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and out:
            last = out[-1]
            out[-1] = _Header(last.name, last.start, pos + len(line))
        else:
            name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower() if b":" in line else ""
            out.append(_Header(name, pos, pos + len(line)))
        pos += len(line)
    return out


def _eol(head: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in head or not head else b"\n"


def add_subject_tag(raw: bytes, tag: str, triggers: Iterable[str]) -> bytes:
    """Prepend ``tag`` (e.g. ``[encrypt] ``) to the subject unless a trigger is already there.

    "Already there" means in the raw value, as the downstream encryption service reads it: a trigger that
    is only visible after decoding (``=?utf-8?q?encrypt?= notes``) gets the plain tag in front, since the
    service would otherwise see no trigger and send the message unencrypted. Detection reads the same raw
    value (``detectors.headerutil.raw_subject_has_trigger``), so an encrypt rule fires for such a subject.

    Only Subject fields change; encoded subjects keep their encoded words (an ASCII word before an encoded
    word is valid RFC 2047 and decodes with the space kept). A message with no Subject gets one."""
    tag_bytes = tag.strip().encode("ascii") + b" "
    words = tuple(triggers)
    head, rest = _split(raw)
    subjects = [f for f in _fields(head) if f.name == "subject"]
    if not subjects:
        eol = _eol(head)
        line = b"Subject: " + tag_bytes.rstrip() + eol
        if head and not head.endswith((b"\n",)):
            head += eol
        return head + line + rest
    out = bytearray()
    pos = 0
    for f in subjects:
        field_bytes = head[f.start : f.end]
        colon = field_bytes.index(b":") + 1
        value = field_bytes[colon:]
        if subject_has_trigger(unfold(value.decode("utf-8", "surrogateescape")), words):
            continue
        out += head[pos : f.start]
        if value.startswith((b" ", b"\t")) and value[1:].strip():
            new = field_bytes[: colon + 1] + tag_bytes + field_bytes[colon + 1 :]
        elif value.strip():  # "Subject:x" or the value starts on a folded line
            new = field_bytes[:colon] + b" " + tag_bytes.rstrip() + (b" " if value[:1] not in b"\r\n" else b"")
            new += value
        else:  # empty subject
            eol = value[len(value.rstrip(b"\r\n")) :] or _eol(head)
            new = field_bytes[:colon] + b" " + tag_bytes.rstrip() + eol
        out += new
        pos = f.end
    out += head[pos:]
    return bytes(out) + rest


# --- S/MIME -------------------------------------------------------------------------------------------------


def _canonical(data: bytes) -> bytes:
    """S/MIME signs and encrypts the canonical form: every line ends in CRLF."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def smime_encrypt(raw: bytes, certs: Sequence[x509.Certificate]) -> bytes:
    """Envelope the MIME content (``Content-*`` headers and body) for ``certs``; other headers stay outside.

    AES-256-CBC content encryption, RSA key transport (what ``cryptography`` offers, and what every S/MIME
    client reads). Raises ValueError with no certificates."""
    if not certs:
        raise ValueError("no recipient certificates")
    head, rest = _split(raw)
    eol = _eol(head)
    outer: list[bytes] = []
    inner_headers: list[bytes] = []
    has_mime_version = False
    for f in _fields(head):
        text = head[f.start : f.end]
        if f.name.startswith("content-"):
            inner_headers.append(text)
        else:
            has_mime_version |= f.name == "mime-version"
            outer.append(text)
    body = rest[2:] if rest.startswith(b"\r\n") else rest[1:] if rest.startswith(b"\n") else rest
    inner = _canonical(b"".join(inner_headers) + b"\r\n" + body)

    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(inner).set_content_encryption_algorithm(algorithms.AES256)
    for cert in certs:
        builder = builder.add_recipient(cert)
    der = builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    b64 = base64.b64encode(der)
    lines = [b64[i : i + 76] for i in range(0, len(b64), 76)]

    parts = [*(_canonical(h) if eol == b"\r\n" else h for h in outer)]
    if not has_mime_version:
        parts.append(b"MIME-Version: 1.0" + eol)
    parts += [
        b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"' + eol,
        b"Content-Transfer-Encoding: base64" + eol,
        b'Content-Disposition: attachment; filename="smime.p7m"' + eol,
        b"Content-Description: S/MIME Encrypted Message" + eol,
        eol,
        eol.join(lines) + eol,
    ]
    return b"".join(parts)


def _emails(cert: x509.Certificate) -> set[str]:
    out: set[str] = set()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        out.update(str(v).strip().lower() for v in san.get_values_for_type(x509.RFC822Name))
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        pass
    for attr in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
        value = attr.value
        out.add((value if isinstance(value, str) else value.decode("ascii", "replace")).strip().lower())
    return {e for e in out if "@" in e}


def usable_for_encryption(cert: x509.Certificate) -> str | None:
    """None if the certificate may encrypt mail to its holder, else why not."""
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        return "not an RSA key (S/MIME enveloping here supports RSA only)"
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.key_encipherment:
            return "key usage does not allow key encipherment"
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.EMAIL_PROTECTION not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            return "extended key usage does not include email protection"
    except x509.ExtensionNotFound:
        pass
    return None


class CertificateDirectory:
    """Recipients' certificates from a folder, loaded once and indexed by the addresses they certify.

    Files: ``*.pem``/``*.crt`` (PEM, several certificates allowed) and ``*.cer``/``*.der`` (PEM or DER).
    Certificates that cannot encrypt are skipped and listed in ``problems`` (file name and why), so
    ``check-config`` can report them; expiry is checked at look-up time, so a long-running gateway stops
    using a certificate the moment it expires. ``CertificateDirectory(None)`` is an empty directory."""

    def __init__(self, folder: Path | None = None, *, clock: Callable[[], datetime] | None = None) -> None:
        self.by_address: dict[str, list[x509.Certificate]] = {}
        self.problems: list[str] = []
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        if folder is not None:
            self._load(folder)

    @classmethod
    def load(cls, folder: Path, clock: Callable[[], datetime] | None = None) -> CertificateDirectory:
        return cls(folder, clock=clock)

    def _load(self, folder: Path) -> None:
        if not folder.is_dir():
            self.problems.append(f"{folder}: not a folder")
            return
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in (".pem", ".crt", ".cer", ".der") or not path.is_file():
                continue
            try:
                data = path.read_bytes()
                certs = (
                    x509.load_pem_x509_certificates(data)
                    if b"-----BEGIN CERTIFICATE-----" in data
                    else [x509.load_der_x509_certificate(data)]
                )
            except (OSError, ValueError) as exc:
                self.problems.append(f"{path.name}: cannot read certificate ({exc.__class__.__name__})")
                continue
            for cert in certs:
                why = usable_for_encryption(cert)
                emails = _emails(cert)
                if why:
                    self.problems.append(f"{path.name}: {why}")
                elif not emails:
                    self.problems.append(f"{path.name}: no email address in the certificate")
                else:
                    self.add(cert, emails)

    def add(self, cert: x509.Certificate, emails: Iterable[str] | None = None) -> None:
        for email in emails if emails is not None else _emails(cert):
            self.by_address.setdefault(email.lower(), []).append(cert)

    def get(self, address: str) -> x509.Certificate | None:
        """The currently valid certificate for ``address`` that lasts longest, or None."""
        now = self.clock()
        valid = [
            c
            for c in self.by_address.get(address.strip().strip("<>").lower(), [])
            if c.not_valid_before_utc <= now <= c.not_valid_after_utc
        ]
        return max(valid, key=lambda c: c.not_valid_after_utc) if valid else None

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and self.get(address) is not None
