"""Build real files for the extraction tests: every format is produced by a real writer, never mocked.

Outlook .msg files are written with extract-msg's own OLE writer, TNEF (winmail.dat) by hand from the
MS-OXTNEF layout, and zip bombs byte by byte; everything else by the library that normally writes the format.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

# Mail -------------------------------------------------------------------------------------------------------


def message(
    subject: str = "Test",
    body: str | None = "Plain body",
    html: str | None = None,
    attachments: list[tuple[str, bytes, str]] | None = None,
) -> EmailMessage:
    """A multipart message; ``attachments`` are (filename, data, "maintype/subtype")."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "Sender <sender@example.org>"
    msg["To"] = "Recipient <recipient@example.com>"
    if body is not None:
        msg.set_content(body)
    if html is not None:
        if body is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for name, data, ctype in attachments or []:
        maintype, subtype = ctype.split("/", 1)
        if maintype == "message":
            msg.add_attachment(BytesParser(policy=policy.default).parsebytes(data), filename=name)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def raw(msg: EmailMessage) -> bytes:
    return msg.as_bytes()


# Office documents -------------------------------------------------------------------------------------------


def docx_bytes() -> bytes:
    """DOCX with body, table, header, footer, hidden run, comment and core properties."""
    import docx

    document = docx.Document()
    document.add_paragraph("Body paragraph about Jane Example.")
    hidden = document.add_paragraph().add_run("Hidden run text")
    hidden.font.hidden = True
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Cell one"
    table.rows[0].cells[1].text = "Cell two"
    section = document.sections[0]
    section.header.paragraphs[0].text = "Header text OFFICIAL-SENSITIVE"
    section.footer.paragraphs[0].text = "Footer text page"
    para = document.add_paragraph("Commented words")
    document.add_comment(para.runs, text="Reviewer comment text", author="Reviewer Name")
    document.core_properties.author = "Author Person"
    document.core_properties.title = "Title Property"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    """XLSX with strings, numbers, a date, a hidden sheet, a comment and a header."""
    import openpyxl
    from openpyxl.comments import Comment

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Cases"
    sheet.append(["Name", "Born", "Ref"])
    sheet.append(["Alice Example", date(2015, 3, 14), 12345678])
    sheet["A2"].comment = Comment("Cell comment text", "Author")
    sheet.oddHeader.center.text = "Sheet header text"
    hidden = book.create_sheet("Secret")
    hidden["B7"] = "Hidden sheet value"
    hidden.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pptx_bytes() -> bytes:
    """PPTX with a title, body text, speaker notes and a table."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Slide title text"
    slide.placeholders[1].text = "Slide body text"
    slide.notes_slide.notes_text_frame.text = "Speaker notes text"
    table = slide.shapes.add_table(1, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
    table.cell(0, 0).text = "Table cell A"
    table.cell(0, 1).text = "Table cell B"
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Second slide title"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def encrypt_office(plain: bytes, password: str = "secret") -> bytes:
    """Password-protect an OOXML file the way Office does (CFB with an EncryptedPackage stream)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt(password, out)
    return out.getvalue()


def odt_bytes(text: str = "ODT body text") -> bytes:
    """A minimal but valid OpenDocument text file (stored mimetype first, as the spec requires)."""
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    text_ns = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    style = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
    meta = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
    dc = "http://purl.org/dc/elements/1.1/"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{office}" '
        f'xmlns:text="{text_ns}" office:version="1.2"><office:body><office:text>'
        f"<text:h>Heading line</text:h><text:p>{text}<text:s/>with<text:tab/>space</text:p>"
        f"<text:p>Second <text:span>spanned</text:span> paragraph</text:p>"
        f"</office:text></office:body></office:document-content>"
    )
    styles = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles xmlns:office="{office}" '
        f'xmlns:style="{style}" xmlns:text="{text_ns}"><office:master-styles><style:master-page style:name="S">'
        f"<style:header><text:p>ODT header text</text:p></style:header></style:master-page>"
        f"</office:master-styles></office:document-styles>"
    )
    meta_xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta xmlns:office="{office}" '
        f'xmlns:meta="{meta}" xmlns:dc="{dc}"><office:meta><dc:title>ODT title</dc:title>'
        f"<meta:initial-creator>ODT Author</meta:initial-creator></office:meta></office:document-meta>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("styles.xml", styles, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("meta.xml", meta_xml, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def rtf_bytes(text: str = "RTF body text") -> bytes:
    return ("{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}\\f0 " + text + " \\'a3100\\par Next line}").encode()


# PDF --------------------------------------------------------------------------------------------------------


def pdf_bytes(lines: list[str] | None = None, pages: int = 1) -> bytes:
    """A text PDF written by reportlab."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    pdf.setTitle("PDF title")
    for page in range(pages):
        y = 800
        for line in lines or [f"PDF page {page + 1} text"]:
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def pdf_form_bytes(value: str = "Form field value") -> bytes:
    """A PDF with a filled-in AcroForm text field (its value lives in the widget, not in the page text)."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    pdf.drawString(72, 800, "Form label")
    pdf.acroForm.textfield(name="child_name", value=value, x=72, y=700, width=300, height=20)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def encrypt_pdf(plain: bytes, password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def text_image(text: str, fmt: str = "PNG", size: int = 48) -> bytes:
    """An image of large black text on white, legible to OCR."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    width = int(font.getlength(text)) + 80
    image = Image.new("RGB", (width, size * 3), "white")
    ImageDraw.Draw(image).text((40, size), text, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def scanned_pdf(text: str) -> bytes:
    """A PDF page holding only an image of text (no text layer), like a scanner's output."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    png = text_image(text)
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    reader = ImageReader(io.BytesIO(png))
    width, height = reader.getSize()
    pdf.drawImage(reader, 36, 600, width=width / 2, height=height / 2)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


# Archives ---------------------------------------------------------------------------------------------------


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sevenz_bytes(members: dict[str, bytes], password: str | None = None, header_encryption: bool = False) -> bytes:
    import py7zr

    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w", password=password, header_encryption=header_encryption) as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return out.getvalue()


def aes_zip_bytes(members: dict[str, bytes], password: bytes = b"secret") -> bytes:
    """WinZip-AES encrypted entries (what 7-Zip and WinZip write)."""
    import pyzipper

    out = io.BytesIO()
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(password)
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def zipcrypto_bytes(members: dict[str, bytes], password: str = "secret") -> bytes | None:
    """Legacy ZipCrypto entries via the ``zip`` CLI; None when the tool is not installed."""
    tool = shutil.which("zip")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        for name, data in members.items():
            (base / name).write_bytes(data)
        subprocess.run([tool, "-q", "-P", password, "out.zip", *members], cwd=base, check=True)
        return (base / "out.zip").read_bytes()


def ratio_bomb(size: int = 20 * 1024 * 1024) -> bytes:
    """One member of zeros expanding about a thousandfold."""
    return zip_bytes({"zeros.txt": b"\0" * size})


def overlapping_bomb(entries: int = 3, member: bytes = b"overlap " * 100) -> bytes:
    """Several central-directory entries sharing one local file (the non-recursive zip bomb's trick)."""
    name = b"shared.txt"
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(member) + compressor.flush()
    crc = zlib.crc32(member)
    local = (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(deflated), len(member), len(name), 0)
        + name
        + deflated
    )
    central = b""
    for _ in range(entries):
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(deflated), len(member), len(name), 0, 0, 0, 0, 0, 0,
        ) + name  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central), len(local), 0)
    return local + central + end


def nested_zips(levels: int, leaf: bytes = b"deep leaf text") -> bytes:
    """zip in zip in zip ... ``levels`` deep, the innermost holding ``leaf.txt``."""
    data = zip_bytes({"leaf.txt": leaf})
    for level in range(levels - 1):
        data = zip_bytes({f"level{levels - level - 1}.zip": data})
    return data


def nested_emls(levels: int) -> bytes:
    """A message forwarding a message forwarding a message ... ``levels`` deep."""
    data = raw(message(subject="innermost", body="deepest body text"))
    for level in range(levels):
        data = raw(
            message(subject=f"level {level}", body=f"body {level}", attachments=[("fwd.eml", data, "message/rfc822")])
        )
    return data


# Outlook ----------------------------------------------------------------------------------------------------

_PT_LONG = 0x0003
_PT_UNICODE = 0x001F
_PT_BINARY = 0x0102


def _prop(tag: int, ptype: int, value: int = 0, size: int = 0) -> bytes:
    flags = 0x6  # readable | writable
    if ptype in (_PT_UNICODE, _PT_BINARY):
        return struct.pack("<IIII", (tag << 16) | ptype, flags, size, 0)
    return struct.pack("<IIQ", (tag << 16) | ptype, flags, value)


def msg_bytes(subject: str, body: str, attachments: list[tuple[str, bytes]] | None = None) -> bytes:
    """A .msg (MS-OXMSG) built with extract-msg's OLE writer: strings, properties and attachment storages."""
    from extract_msg import OleWriter

    writer = OleWriter()
    strings = {0x001A: "IPM.Note", 0x0037: subject, 0x1000: body, 0x0C1A: "Sender Name", 0x0E04: "Recipient Name"}
    props = b""
    for tag, value in strings.items():
        encoded = value.encode("utf-16-le")
        writer.addEntry(f"__substg1.0_{tag:04X}001F", encoded)
        props += _prop(tag, _PT_UNICODE, size=len(encoded) + 2)
    for stream in ("__substg1.0_00020102", "__substg1.0_00030102", "__substg1.0_00040102"):
        writer.addEntry(f"__nameid_version1.0/{stream}", b"")
    recipient = "__recip_version1.0_#00000000"
    recipient_props = b""
    for tag, value in {
        0x3001: "Recipient Name",
        0x3003: "recipient@example.com",
        0x39FE: "recipient@example.com",
    }.items():
        encoded = value.encode("utf-16-le")
        writer.addEntry(f"{recipient}/__substg1.0_{tag:04X}001F", encoded)
        recipient_props += _prop(tag, _PT_UNICODE, size=len(encoded) + 2)
    recipient_props += _prop(0x0C15, _PT_LONG, value=1)  # PR_RECIPIENT_TYPE: To
    writer.addEntry(f"{recipient}/__properties_version1.0", b"\0" * 8 + recipient_props)
    count = len(attachments or [])
    header = b"\0" * 8 + struct.pack("<IIII", 1, count, 1, count) + b"\0" * 8
    writer.addEntry("__properties_version1.0", header + props)
    for index, (name, data) in enumerate(attachments or []):
        storage = f"__attach_version1.0_#{index:08X}"
        encoded_name = name.encode("utf-16-le")
        writer.addEntry(f"{storage}/__substg1.0_37010102", data)
        writer.addEntry(f"{storage}/__substg1.0_3707001F", encoded_name)
        writer.addEntry(f"{storage}/__substg1.0_3704001F", encoded_name)
        attach_props = (
            _prop(0x3705, _PT_LONG, value=1)
            + _prop(0x3701, _PT_BINARY, size=len(data))
            + _prop(0x3707, _PT_UNICODE, size=len(encoded_name) + 2)
            + _prop(0x0E21, _PT_LONG, value=index)
        )
        writer.addEntry(f"{storage}/__properties_version1.0", b"\0" * 8 + attach_props)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _tnef_attr(level: int, attr_id: int, attr_type: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, attr_id, attr_type, len(data)) + data + struct.pack("<H", checksum)


def tnef_bytes(subject: str, body: str, attachments: list[tuple[str, bytes]] | None = None) -> bytes:
    """A winmail.dat (MS-OXTNEF) with a subject, a plain body and attachments."""
    message_level, attachment_level = 1, 2
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _tnef_attr(message_level, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += _tnef_attr(message_level, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += _tnef_attr(message_level, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\0")  # attMessageClass
    out += _tnef_attr(message_level, 0x8004, 0x0001, subject.encode("cp1252") + b"\0")  # attSubject
    out += _tnef_attr(message_level, 0x800C, 0x0002, body.encode("cp1252"))  # attBody
    for name, data in attachments or []:
        out += _tnef_attr(attachment_level, 0x9002, 0x0006, b"\0" * 14)  # attAttachRendData starts one
        out += _tnef_attr(attachment_level, 0x8010, 0x0001, name.encode("cp1252") + b"\0")  # attAttachTitle
        out += _tnef_attr(attachment_level, 0x800F, 0x0006, data)  # attAttachData
    return out


# S/MIME -----------------------------------------------------------------------------------------------------


def _key_and_cert() -> tuple[object, object]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def opaque_signed_message(inner: bytes) -> bytes:
    """An ``application/pkcs7-mime; smime-type=signed-data`` message wrapping the MIME entity ``inner``."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    key, cert = _key_and_cert()
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(inner)
        .add_signer(cert, key, hashes.SHA256())  # type: ignore[arg-type]
        .sign(serialization.Encoding.DER, [])
    )
    msg = EmailMessage()
    msg["Subject"] = "Signed"
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.com"
    msg.set_content(
        der, maintype="application", subtype="pkcs7-mime", params={"smime-type": "signed-data"}, filename="smime.p7m"
    )
    return msg.as_bytes()


def enveloped_message(inner: bytes) -> bytes:
    """An ``application/pkcs7-mime; smime-type=enveloped-data`` (encrypted) message."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    _, cert = _key_and_cert()
    der = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(inner)
        .add_recipient(cert)
        .encrypt(  # type: ignore[arg-type]
            serialization.Encoding.DER, []
        )
    )
    msg = EmailMessage()
    msg["Subject"] = "Encrypted"
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.com"
    msg.set_content(
        der, maintype="application", subtype="pkcs7-mime", params={"smime-type": "enveloped-data"}, filename="smime.p7m"
    )
    return msg.as_bytes()
