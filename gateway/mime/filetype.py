"""Decide what a file is from its bytes (magic numbers, container contents), not from its name.

A PDF renamed ``notes.txt`` or sent as ``text/plain`` is still read as a PDF; names and declared types only
break ties between text formats.
"""

from __future__ import annotations

import io
import mimetypes
import re
import zipfile
from dataclasses import dataclass

from gateway.mime.charset import bom_codec
from gateway.mime.zipsafe import declared_entries


@dataclass(frozen=True, slots=True)
class FileType:
    kind: str
    """Registry key: ``pdf``, ``docx``, ``zip``, ``png``, ``text``, ``binary``..."""
    mime: str
    ext: str


def _t(kind: str, mime: str, ext: str) -> FileType:
    return FileType(kind, mime, ext)


PDF = _t("pdf", "application/pdf", ".pdf")
DOCX = _t("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")
XLSX = _t("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
PPTX = _t("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx")
ODT = _t("odf", "application/vnd.oasis.opendocument.text", ".odt")
ZIP = _t("zip", "application/zip", ".zip")
RTF = _t("rtf", "application/rtf", ".rtf")
GZIP = _t("gzip", "application/gzip", ".gz")
BZIP2 = _t("bzip2", "application/x-bzip2", ".bz2")
XZ = _t("xz", "application/x-xz", ".xz")
SEVENZ = _t("7z", "application/x-7z-compressed", ".7z")
TAR = _t("tar", "application/x-tar", ".tar")
TNEF = _t("tnef", "application/ms-tnef", ".dat")
MSG = _t("msg", "application/vnd.ms-outlook", ".msg")
OFFICE_ENCRYPTED = _t("office-encrypted", "application/x-ole-encrypted-package", ".bin")
DOC = _t("doc", "application/msword", ".doc")
XLS = _t("xls", "application/vnd.ms-excel", ".xls")
PPT = _t("ppt", "application/vnd.ms-powerpoint", ".ppt")
CFB = _t("cfb", "application/x-ole-storage", ".bin")
PKCS7 = _t("pkcs7", "application/pkcs7-mime", ".p7m")
EML = _t("eml", "message/rfc822", ".eml")
HTML = _t("html", "text/html", ".html")
TEXT = _t("text", "text/plain", ".txt")
BINARY = _t("binary", "application/octet-stream", ".bin")
EMPTY = _t("empty", "application/x-empty", ".bin")
PNG = _t("png", "image/png", ".png")
JPEG = _t("jpeg", "image/jpeg", ".jpg")
GIF = _t("gif", "image/gif", ".gif")
TIFF = _t("tiff", "image/tiff", ".tif")
BMP = _t("bmp", "image/bmp", ".bmp")
WEBP = _t("webp", "image/webp", ".webp")
HEIC = _t("heic", "image/heic", ".heic")

IMAGE_KINDS = frozenset({"png", "jpeg", "gif", "tiff", "bmp", "webp", "heic"})

_ODF_TYPES = {
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.text-template": ".ott",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.spreadsheet-template": ".ots",
    "application/vnd.oasis.opendocument.presentation": ".odp",
    "application/vnd.oasis.opendocument.presentation-template": ".otp",
    "application/vnd.oasis.opendocument.graphics": ".odg",
}
_MAX_SNIFF_ENTRIES = 10_000
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# CMS ContentInfo: SEQUENCE, then the OID 1.2.840.113549.1.7.x (signed/enveloped data).
_CMS_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07"
_CMS_AUTH_OID = b"\x06\x0b\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01"
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title|div|p|table)\b", re.I | re.S
)
_XHTML = re.compile(rb"<html\b", re.I)
_HEADER_LINE = re.compile(rb"^([A-Za-z][A-Za-z0-9-]{0,60}):[ \t]?", re.M)
# A text file is taken for a mail only with transport headers too: a memo starting "To:/From:/Re:" stays text,
# so none of its header-like lines is dropped.
_TRANSPORT_HEADERS = frozenset(
    {b"received", b"return-path", b"message-id", b"mime-version", b"content-type", b"delivered-to"}
)
_ADDRESS_HEADERS = frozenset({b"from", b"to", b"subject", b"sender", b"cc"})
_TEXT_EXTENSIONS = (".txt", ".csv", ".tsv", ".log", ".md", ".json", ".xml", ".ics", ".vcf", ".ini", ".yaml", ".yml")
_MIME_TYPES = mimetypes.MimeTypes()  # built-in table only: the same answers on every machine


def guess_type_from_name(name: str) -> str:
    """Content type a file name suggests (used as the ``declared_type`` of archive members)."""
    guessed, _ = _MIME_TYPES.guess_type(name, strict=False)
    return guessed or ""


_EXTENSIONS = {
    "text/plain": ".txt",
    "text/calendar": ".ics",
    "text/vcard": ".vcf",
    "text/x-vcard": ".vcf",
    "text/directory": ".vcf",
    "text/html": ".html",
    "message/rfc822": ".eml",
    "application/octet-stream": ".bin",
}


def extension_for(declared_type: str) -> str:
    """File extension for an unnamed part, from its declared type (``.bin`` when unknown)."""
    if declared_type in _EXTENSIONS:
        return _EXTENSIONS[declared_type]
    ext = _MIME_TYPES.guess_extension(declared_type, strict=False) if declared_type else None
    return ext or ".bin"


def sniff(data: bytes, name: str = "", declared_type: str = "") -> FileType:
    """The file's real type, from its first bytes (and, for ZIP and CFB, its directory)."""
    if not data:
        return EMPTY
    head = data[:8]
    if b"%PDF-" in data[:1024]:
        return PDF
    if head.startswith(_ZIP_MAGICS):
        return _zip_family(data)
    if head == _CFB_MAGIC:
        return _cfb_family(data)
    if head.startswith(b"\x78\x9f\x3e\x22"):
        return TNEF
    if data[:5] == b"{\\rtf":
        return RTF
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"BZh") and data[3:4].isdigit():
        return BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return XZ
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return SEVENZ
    if data[257:262] == b"ustar":
        return TAR
    image = _image(data)
    if image is not None:
        return image
    if _is_cms(data):
        return PKCS7
    return _text_or_binary(data, name, declared_type)


def _image(data: bytes) -> FileType | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif", b"avif"):
        return HEIC
    if data[:2] == b"BM" and len(data) > 26 and int.from_bytes(data[2:6], "little") in (len(data), 0):
        return BMP
    return None


def _is_cms(data: bytes) -> bool:
    if data[:1] != b"\x30":
        return False
    window = data[:24]
    return _CMS_OID in window or _CMS_AUTH_OID in window


def _zip_family(data: bytes) -> FileType:
    """Tell OOXML and ODF documents from plain ZIP archives by their member names."""
    count = declared_entries(data)
    if count is not None and count > _MAX_SNIFF_ENTRIES:
        return ZIP  # not parsed here; the ZIP reader refuses it as over the member limit
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = ""
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size < 200 and not info.flag_bits & 1:
                    mimetype = archive.read(info).decode("ascii", "replace").strip()
    except Exception:
        return ZIP
    if mimetype in _ODF_TYPES:
        return FileType("odf", mimetype, _ODF_TYPES[mimetype])
    if "[Content_Types].xml" in names:
        if any(n.startswith("word/") for n in names):
            return DOCX
        if any(n.startswith("xl/") for n in names):
            return XLSX
        if any(n.startswith("ppt/") for n in names):
            return PPTX
    if mimetype.startswith("application/vnd.oasis.opendocument") or (
        "content.xml" in names and "META-INF/manifest.xml" in names
    ):
        return ODT
    return ZIP


def _cfb_family(data: bytes) -> FileType:
    """Compound files hold Outlook messages, legacy Office documents and password-protected OOXML alike."""
    try:
        import olefile

        with olefile.OleFileIO(data) as ole:
            entries = {"/".join(path) for path in ole.listdir(streams=True, storages=True)}
    except Exception:
        return CFB
    top = {entry.split("/", 1)[0] for entry in entries}
    if "EncryptedPackage" in top:
        return OFFICE_ENCRYPTED
    if "__properties_version1.0" in top or any(name.startswith("__substg1.0_") for name in top):
        return MSG
    if "WordDocument" in top:
        return DOC
    if "Workbook" in top or "Book" in top:
        return XLS
    if "PowerPoint Document" in top:
        return PPT
    return CFB


def looks_like_text(sample: bytes) -> bool:
    """Few control bytes and no NULs (unless a BOM says UTF-16/32): text, in any 8-bit or UTF-8 charset."""
    if bom_codec(sample):
        return True
    if b"\x00" in sample:
        return _utf16_without_bom(sample)
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 12, 13, 27))
    return controls <= max(2, len(sample) // 100)


def _utf16_without_bom(sample: bytes) -> bool:
    even = sample[0::2]
    odd = sample[1::2]
    return len(sample) >= 4 and (odd.count(0) > len(odd) * 0.9 or even.count(0) > len(even) * 0.9)


def _text_or_binary(data: bytes, name: str, declared_type: str) -> FileType:
    sample = data[:8192]
    if not looks_like_text(sample):
        return BINARY
    lower_name = name.lower()
    if _HTML_START.match(sample) or (sample.lstrip().startswith(b"<?xml") and _XHTML.search(sample[:2048])):
        return HTML
    if declared_type == "text/html" or lower_name.endswith((".html", ".htm", ".xhtml")):
        return HTML
    if declared_type == "message/rfc822" or lower_name.endswith(".eml"):
        return EML
    if not lower_name.endswith(_TEXT_EXTENSIONS) and _looks_like_mail(sample):
        return EML
    mime = declared_type if declared_type.startswith("text/") else "text/plain"
    return FileType("text", mime, extension_for(mime))


def _looks_like_mail(sample: bytes) -> bool:
    """Opens with a header block holding both transport headers and address headers."""
    block = sample.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if not _HEADER_LINE.match(block):
        return False
    found = {m.group(1).lower() for m in _HEADER_LINE.finditer(block)}
    return bool(found & _TRANSPORT_HEADERS) and bool(found & _ADDRESS_HEADERS)
