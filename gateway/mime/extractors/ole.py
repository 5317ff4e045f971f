"""Compound (OLE/CFB) files: password-protected Office, legacy .doc/.xls/.ppt, OLE packages.

A password-protected DOCX/XLSX/PPTX is not a zip but a compound file holding an ``EncryptedPackage`` stream;
legacy formats carry their own encryption flag, which msoffcrypto-tool reads in about a millisecond.
"""

from __future__ import annotations

import io
import struct

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.extractors.strings import printable_runs
from gateway.mime.guards import CorruptContent, EncryptedContent
from gateway.mime.names import clean_name

_TEXT_STREAMS = frozenset(
    {"WordDocument", "Workbook", "Book", "PowerPoint Document", "\x05SummaryInformation",
     "\x05DocumentSummaryInformation"}
)  # fmt: skip
_PACKAGE_STREAM = "\x01Ole10Native"


def _ole(item: Item, ctx: Context) -> None:
    import olefile

    if item.filetype.kind == "office-encrypted":
        raise EncryptedContent("office document password-protected")
    if item.filetype.kind in ("doc", "xls", "ppt") and _legacy_encrypted(item.data):
        raise EncryptedContent("office document password-protected")
    try:
        ole = olefile.OleFileIO(item.data)
    except Exception as exc:
        raise CorruptContent("compound file unreadable") from exc
    texts: list[str] = []
    try:
        for path in ole.listdir(streams=True, storages=False):
            ctx.deadline.check()
            leaf = path[-1]
            if leaf == _PACKAGE_STREAM:
                _package(ole.openstream(path).read(), item, ctx)
            elif leaf in _TEXT_STREAMS or item.filetype.kind == "cfb":
                size = int(ole.get_size(path))
                ctx.sink.take_bytes(size)
                texts.append(printable_runs(ole.openstream(path).read()))
    finally:
        ole.close()
        ctx.sink.add_text(item.location, "\n".join(t for t in texts if t), "attachment")


def _legacy_encrypted(data: bytes) -> bool:
    import msoffcrypto

    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted())
    except Exception:
        return False


def _package(stream: bytes, item: Item, ctx: Context) -> None:
    """An OLE "Package" object: a whole file (often a PDF or another document) embedded in a document."""
    try:
        pos = 4 + 2  # total size, flags
        label_end = stream.index(b"\x00", pos)
        label = stream[pos:label_end].decode("cp1252", "replace")
        pos = stream.index(b"\x00", label_end + 1) + 1  # original path
        pos += 4  # reserved
        (temp_len,) = struct.unpack_from("<I", stream, pos)
        pos += 4 + temp_len
        (size,) = struct.unpack_from("<I", stream, pos)
        pos += 4
        data = stream[pos : pos + size]
    except (ValueError, struct.error):
        return
    name = clean_name(label) or "package.bin"
    ctx.sink.take_bytes(len(data))
    ctx.walker.extract_member(
        data, location=f"{item.location}/{name}", name=name, declared_type="", depth=item.depth + 1
    )


OLE = Extractor("ole", frozenset({"office-encrypted", "doc", "xls", "ppt", "cfb"}), _ole)
