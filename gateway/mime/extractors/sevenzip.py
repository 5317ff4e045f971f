"""7z archives through py7zr: sizes checked from the header before anything is decompressed."""

from __future__ import annotations

import io
import lzma
import zlib

import py7zr
from py7zr.exceptions import ArchiveError, DecompressionBombError, PasswordRequired
from py7zr.io import BytesIOFactory

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.filetype import guess_type_from_name
from gateway.mime.guards import CorruptContent, EncryptedContent, LimitExceeded, ratio_detail, ratio_exceeded
from gateway.mime.names import clean_member_path

_ERRORS = (
    ArchiveError, lzma.LZMAError, OSError, EOFError, ValueError, KeyError, IndexError, TypeError, AttributeError,
    NotImplementedError, zlib.error,
)  # fmt: skip


def _sevenzip(item: Item, ctx: Context) -> None:
    limits = ctx.limits
    try:
        archive = py7zr.SevenZipFile(io.BytesIO(item.data), mode="r")
    except PasswordRequired as exc:
        raise EncryptedContent("7z password-protected (headers)") from exc
    except _ERRORS as exc:
        raise CorruptContent("7z unreadable") from exc
    with archive:
        if archive.needs_password():
            raise EncryptedContent("7z password-protected")
        files = [info for info in archive.list() if info.is_file]
        over = len(files) > limits.max_archive_members
        files = files[: limits.max_archive_members]
        declared = sum(int(info.uncompressed or 0) for info in files)
        if ratio_exceeded(declared, len(item.data), limits):
            raise LimitExceeded(ratio_detail(limits))
        budget = ctx.sink.remaining_bytes()
        if declared > budget:
            raise LimitExceeded(f"extracted bytes > {limits.max_total_bytes}")
        archive.max_extract_size = max(declared, 1)
        factory = BytesIOFactory(limit=max(declared, 1))
        try:
            archive.extract(targets=[info.filename for info in files], factory=factory)
        except DecompressionBombError as exc:
            raise LimitExceeded("7z expands past its declared sizes") from exc
        except PasswordRequired as exc:
            raise EncryptedContent("7z password-protected") from exc
        except _ERRORS as exc:
            raise CorruptContent("7z unreadable") from exc
    for info in files:
        ctx.deadline.check()
        product = factory.products.get(info.filename)
        if product is None:
            continue
        product.seek(0)
        data = product.read()
        ctx.sink.take_bytes(len(data))
        path = clean_member_path(info.filename)
        ctx.walker.extract_member(
            data,
            location=f"{item.location}/{path}",
            name=path,
            declared_type=guess_type_from_name(path),
            depth=item.depth + 1,
        )
    if over:
        raise LimitExceeded(f"archive members > {limits.max_archive_members}")


SEVENZIP = Extractor("7z", frozenset({"7z"}), _sevenzip)
