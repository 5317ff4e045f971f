"""Open ZIP containers (archives and OOXML/ODF documents) without trusting the standard library.

``zipfile`` happily reads zip bombs of both kinds: a member with a huge expansion ratio, and the
overlapping-entry kind where many central-directory entries point at the same compressed data. Both are
checked here, before any member is decompressed.
"""

from __future__ import annotations

import io
import itertools
import struct
import zipfile
import zlib

from gateway.mime.guards import (
    CorruptContent,
    EncryptedContent,
    LimitExceeded,
    ratio_detail,
    ratio_exceeded,
    read_bounded,
)
from gateway.mime.limits import ExtractionLimits
from gateway.mime.sink import Sink

_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30
_FLAG_ENCRYPTED = 0x1
_AES_METHOD = 99
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError, ValueError, RuntimeError)


def declared_entries(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record (zip64 aware), read without parsing the directory."""
    tail_start = max(0, len(data) - (1 << 16) - 22)
    eocd = data.rfind(b"PK\x05\x06", tail_start)
    if eocd == -1 or eocd + 22 > len(data):
        return None
    (count,) = struct.unpack_from("<H", data, eocd + 10)
    if count != 0xFFFF:
        return int(count)
    locator = eocd - 20
    if locator < 0 or data[locator : locator + 4] != b"PK\x06\x07":
        return None
    (offset,) = struct.unpack_from("<Q", data, locator + 8)
    if offset + 56 > len(data) or data[offset : offset + 4] != b"PK\x06\x06":
        return None
    (count64,) = struct.unpack_from("<Q", data, offset + 32)
    return int(count64)


def too_many_entries(data: bytes, limits: ExtractionLimits) -> bool:
    """Directories far past the member limit are refused unparsed: ``zipfile`` builds an object per entry."""
    count = declared_entries(data)
    return count is not None and count > max(10 * limits.max_archive_members, 10_000)


def open_zip(data: bytes, limits: ExtractionLimits) -> zipfile.ZipFile:
    """A ``ZipFile`` over ``data`` whose directory passed the bomb checks; raises corrupt/limit otherwise."""
    if too_many_entries(data, limits):
        raise LimitExceeded(f"archive members > {limits.max_archive_members}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        OSError,
        ValueError,
        EOFError,
        struct.error,
    ) as exc:
        raise CorruptContent(f"zip unreadable ({type(exc).__name__})") from exc
    try:
        check_structure(archive.infolist(), data, limits)
    except Exception:
        archive.close()
        raise
    return archive


def check_structure(infos: list[zipfile.ZipInfo], data: bytes, limits: ExtractionLimits) -> None:
    """Reject archives whose declared sizes or overlapping entries reveal a bomb."""
    declared = sum(info.file_size for info in infos)
    if ratio_exceeded(declared, len(data), limits):
        raise LimitExceeded(f"{ratio_detail(limits)} (declared sizes vs archive size)")
    spans: list[tuple[int, int]] = []
    for info in infos:
        start = info.header_offset
        if start < 0 or start + _LOCAL_HEADER_SIZE > len(data) or data[start : start + 4] != _LOCAL_HEADER:
            raise CorruptContent("zip entry points outside the archive")
        name_len, extra_len = struct.unpack_from("<HH", data, start + 26)
        end = start + _LOCAL_HEADER_SIZE + name_len + extra_len + info.compress_size
        if end > len(data):
            raise CorruptContent("zip entry runs past the end of the archive")
        spans.append((start, end))
    spans.sort()
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        if second_start < first_end:
            raise LimitExceeded("overlapping zip entries (zip bomb)")


def is_encrypted(info: zipfile.ZipInfo) -> bool:
    return bool(info.flag_bits & _FLAG_ENCRYPTED) or info.compress_type == _AES_METHOD


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ExtractionLimits, sink: Sink) -> bytes:
    """Decompress one member after checking encryption, ratio and the message byte budget."""
    if is_encrypted(info):
        raise EncryptedContent("zip entry encrypted")
    if ratio_exceeded(info.file_size, info.compress_size, limits):
        raise LimitExceeded(ratio_detail(limits))
    if info.file_size > sink.remaining_bytes():
        raise LimitExceeded(f"extracted bytes > {limits.max_total_bytes}")
    try:
        with archive.open(info) as stream:
            data = read_bounded(stream, info.file_size, "zip entry larger than declared")
    except _READ_ERRORS as exc:
        raise CorruptContent(f"zip entry unreadable ({type(exc).__name__})") from exc
    sink.take_bytes(len(data))
    return data
