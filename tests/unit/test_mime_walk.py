"""The MIME walk: chunk order and location names, nested messages, signatures and encryption, limits."""

from __future__ import annotations

from email.message import EmailMessage

from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import Extraction
from gateway.mime.parse import parse_message
from tests import mime_fixtures as fx

LIMITS = ExtractionLimits(ocr=False)


def run(raw: bytes, limits: ExtractionLimits = LIMITS) -> Extraction:
    return extract(parse_message(raw), limits)


def texts(result: Extraction) -> dict[str, str]:
    return {c.location: c.text.strip() for c in result.chunks}


def test_order_and_locations() -> None:
    """Subject first, then bodies, then attachments, each with its documented location and kind."""
    msg = fx.message(
        subject="Case ZE12C34567",
        body="Plain body",
        html="<p>HTML body</p>",
        attachments=[("notes.txt", b"Attached notes", "text/plain")],
    )
    result = run(fx.raw(msg))
    assert [(c.location, c.kind) for c in result.chunks] == [
        ("subject", "subject"),
        ("header:From", "header"),
        ("header:To", "header"),
        ("body", "body"),
        ("body.html", "body"),
        ("attachment-name:notes.txt", "attachment"),
        ("attachment:notes.txt", "attachment"),
    ]
    assert texts(result)["body.html"] == "HTML body"
    assert [a.location for a in result.attachments] == ["attachment:notes.txt"]


def test_second_bodies_are_numbered() -> None:
    """Later inline text parts become body.2 and body.html.2."""
    raw = (
        b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\nContent-Type: text/html\r\n\r\n<b>two</b>\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nthree\r\n--b\r\nContent-Type: text/html\r\n\r\n<i>four</i>\r\n--b--\r\n"
    )
    assert texts(run(raw)) == {
        "subject": "x",
        "body": "one",
        "body.html": "two",
        "body.2": "three",
        "body.html.2": "four",
    }


def test_unnamed_parts_get_part_numbers() -> None:
    """Attachments without a filename are named part-N.ext from their detected type."""
    msg = EmailMessage()
    msg["Subject"] = "x"
    msg.set_content("body")
    msg.add_attachment(fx.pdf_bytes(["unnamed pdf text"]), maintype="application", subtype="octet-stream")
    result = run(fx.raw(msg))
    assert "unnamed pdf text" in texts(result)["attachment:part-3.pdf"]


def test_empty_subject_is_not_a_chunk() -> None:
    """No subject chunk when the Subject header is missing or blank."""
    assert "subject" not in texts(run(b"Subject:  \r\n\r\nbody\r\n"))


def test_calendar_and_vcard_are_text() -> None:
    """Inline text/calendar and text/vcard parts are read as text attachments."""
    raw = (
        b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nSUMMARY:Hearing for Jo\r\nEND:VCALENDAR\r\n"
        b"--b\r\nContent-Type: text/vcard\r\n\r\nBEGIN:VCARD\r\nFN:Jo Bloggs\r\nEND:VCARD\r\n--b--\r\n"
    )
    found = texts(run(raw))
    assert "SUMMARY:Hearing for Jo" in found["attachment:part-2.ics"]
    assert "FN:Jo Bloggs" in found["attachment:part-3.vcf"]


def test_attached_message_is_recursive() -> None:
    """An attached message yields headers, body and its own attachments under attachment:NAME/."""
    inner = fx.message(
        subject="Inner subject",
        body="Inner body text",
        attachments=[("x.txt", b"inner attachment text", "text/plain")],
    )
    outer = fx.message(body="Outer", attachments=[("fwd.eml", fx.raw(inner), "message/rfc822")])
    found = texts(run(fx.raw(outer)))
    assert "Subject: Inner subject" in found["attachment:fwd.eml/headers"]
    assert "From: Sender <sender@example.org>" in found["attachment:fwd.eml/headers"]
    assert found["attachment:fwd.eml/body"] == "Inner body text"
    assert found["attachment:fwd.eml/attachment:x.txt"] == "inner attachment text"


def test_eml_file_attachment_is_recursive() -> None:
    """A .eml sent as application/octet-stream is sniffed and walked like message/rfc822."""
    inner = fx.raw(fx.message(subject="Inner", body="eml body text"))
    found = texts(run(fx.raw(fx.message(attachments=[("fwd.eml", inner, "application/octet-stream")]))))
    assert found["attachment:fwd.eml/body"] == "eml body text"


def test_eml_nesting_limit() -> None:
    """Messages nested past max_depth stop with unscannable: limit, quickly."""
    result = run(fx.nested_emls(10))
    limited = [u for u in result.unscannable if u.reason == "limit"]
    assert limited and "depth" in limited[0].detail
    assert limited[0].location.count("fwd.eml") == 6


def test_message_rfc822_sent_base64() -> None:
    """A message/rfc822 part wrongly base64-encoded is decoded and walked."""
    import base64

    inner = b"Subject: inner\r\n\r\ninner text\r\n"
    raw = (
        b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner)
        + b"\r\n--b--\r\n"
    )
    assert texts(run(raw))["attachment:part-2.eml/body"] == "inner text"


def test_enveloped_smime_is_skipped_silently() -> None:
    """S/MIME enveloped data is neither text nor unscannable: the encryption detector reports it."""
    result = run(fx.enveloped_message(b"Content-Type: text/plain\r\n\r\nsecret\r\n"))
    assert result.unscannable == ()
    assert [c.location for c in result.chunks if not c.location.startswith(("header:", "attachment-name:"))] == [
        "subject"
    ]


def test_opaque_signed_smime_is_read() -> None:
    """Opaque-signed S/MIME carries readable content: it is extracted like the message body."""
    result = run(fx.opaque_signed_message(b"Content-Type: text/plain\r\n\r\nSigned body text\r\n"))
    assert texts(result)["body"] == "Signed body text"
    assert result.unscannable == ()


def test_detached_signature_and_pgp_skipped() -> None:
    """Real detached signatures (CMS and OpenPGP) and a real PGP/MIME encrypted part are skipped without
    unscannable items; the same labels on anything else are read (issue 12: labels are never proof)."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    from tests import crypto_fixtures as cf

    cert, key = cf.rsa_cert()
    cms = (
        pkcs7.PKCS7SignatureBuilder().set_data(b"signed text\r\n").add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])
    )
    signature_packet = cf.packet(2, b"\x04\x00\x16\x08" + bytes(6) + b"\x00\x00" + bytes(70))

    def message(cms_part: bytes, pgp_part: str, pgp_signature: str) -> bytes:
        return (
            b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=s\r\n\r\n--s\r\n'
            b"Content-Type: text/plain\r\n\r\nsigned text\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(cms_part) + b"\r\n--s--\r\n--o\r\n"
            b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=e\r\n\r\n--e\r\n'
            b"Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--e\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + pgp_part.encode() + b"\r\n--e--\r\n--o\r\n"
            b"Content-Type: application/pgp-signature\r\n\r\n" + pgp_signature.encode() + b"\r\n--o--\r\n"
        )

    real = run(message(cms, cf.armour(cf.pgp_encrypted()), cf.armour(signature_packet, "SIGNATURE")))
    assert texts(real) == {"subject": "x", "body": "signed text"}
    assert real.unscannable == () and real.false_encryption_claims == ()
    assert [n.detail for n in real.ciphertext] == ["OpenPGP encrypted message (PKESK, SEIPD)"]
    fake = run(message(b"cms text " * 20, "-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n-----END PGP MESSAGE-----",
                       "pgp signature text"))
    assert fake.ciphertext == () and fake.false_encryption_claims
    assert "pgp signature text" in "\n".join(texts(fake).values())
    assert "cms text" in "\n".join(texts(fake).values())


def test_inline_logo_without_ocr_is_not_text_scanned() -> None:
    """An inline image (Content-ID logo) with OCR off is noted, never unscannable."""
    msg = fx.message(html='<p>Hi</p><img src="cid:logo1">')
    msg.get_payload()[1].add_related(  # type: ignore[index, union-attr]
        fx.text_image("Logo"), maintype="image", subtype="png", cid="<logo1>"
    )
    result = run(fx.raw(msg))
    assert result.unscannable == ()
    assert len(result.not_text_scanned) == 1
    assert result.not_text_scanned[0].startswith("attachment:part-")


def test_part_limit() -> None:
    """More MIME parts than max_parts gives one unscannable: limit and stops walking."""
    attachments = [(f"f{n}.txt", b"text", "text/plain") for n in range(20)]
    result = run(fx.raw(fx.message(attachments=attachments)), ExtractionLimits(ocr=False, max_parts=5))
    limits = [u for u in result.unscannable if u.reason == "limit"]
    assert len(limits) == 1 and limits[0].detail == "parts > 5"
    assert len([c for c in result.chunks if c.location.startswith("attachment:")]) < 5


def test_byte_budget() -> None:
    """Decoded bytes beyond max_total_bytes make the attachment unscannable: limit."""
    big = b"x" * 600_000
    limits = ExtractionLimits(ocr=False, max_total_bytes=1_000_000)
    msg = fx.message(attachments=[("a.txt", big, "text/plain"), ("b.txt", big, "text/plain")])
    result = run(fx.raw(msg), limits)
    assert ("attachment:b.txt", "limit") in {(u.location, u.reason) for u in result.unscannable}
    assert "attachment:a.txt" in texts(result)


def test_multipart_nesting_limit() -> None:
    """Multipart containers nested past max_multipart_depth stop with a limit item."""
    body = b"Content-Type: text/plain\r\n\r\ndeep text\r\n"
    for level in range(30):
        b = b"b%d" % level
        body = (
            b"Content-Type: multipart/mixed; boundary="
            + b
            + b"\r\n\r\n--"
            + b
            + b"\r\n"
            + body
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    result = run(b"Subject: deep\r\n" + body, ExtractionLimits(ocr=False, max_multipart_depth=10))
    assert ("message", "limit") in {(u.location, u.reason) for u in result.unscannable}


def test_attachment_deadline() -> None:
    """An attachment that outlives attachment_seconds becomes unscannable: limit (time)."""
    msg = fx.message(attachments=[("a.pdf", fx.pdf_bytes(pages=3), "application/pdf")])
    result = run(fx.raw(msg), ExtractionLimits(ocr=False, attachment_seconds=1e-9))
    found = {u.location: u for u in result.unscannable}
    assert found["attachment:a.pdf"].reason == "limit"
    assert found["attachment:a.pdf"].detail.startswith("time")


def test_defects_are_reported() -> None:
    """MIME defect class names from every level are listed."""
    raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\nno boundary lines at all\r\n"
    assert "StartBoundaryNotFoundDefect" in run(raw).defects


def test_corrupt_attachment_is_contained() -> None:
    """A corrupt file becomes unscannable: corrupt for that attachment only; the rest is still read."""
    broken_pdf = b"%PDF-1.4\n" + b"\x00garbage" * 50
    msg = fx.message(body="still read", attachments=[("bad.pdf", broken_pdf, "application/pdf")])
    result = run(fx.raw(msg))
    assert texts(result)["body"] == "still read"
    assert {(u.location, u.reason) for u in result.unscannable} == {("attachment:bad.pdf", "corrupt")}


def test_unknown_binary_strings() -> None:
    """Unknown binary formats contribute their printable strings rather than being silently skipped."""
    blob = b"\x00\x01\x02" * 50 + b"Embedded string AB123456C" + b"\x00\xff" * 50
    found = texts(run(fx.raw(fx.message(attachments=[("data.bin", blob, "application/octet-stream")]))))
    assert "Embedded string AB123456C" in found["attachment:data.bin"]
