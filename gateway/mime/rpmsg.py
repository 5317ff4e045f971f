"""Rights-management protected mail (``message.rpmsg``, MS-OXORMMS): prove the container, never trust the name.

Outlook and Exchange protect a message by replacing its content with one attachment, ``message.rpmsg``
(``application/x-microsoft-rpmsg-message``), on a wrapper message marked ``Content-Class: rpmsg.message``.
The attachment is, per MS-OXORMMS section 2.2.4 and Microsoft's own description of it:

1. the 8-byte signature ``76 E8 04 60 C4 11 E3 86``;
2. then zlib blocks, each with a 12-byte little-endian header (``0x0FA0`` marker, inflated size, deflated
   size) and that many bytes of RFC 1950 data; inflated and joined they form
3. a compound file (MS-CFB) holding the ``\\x06DataSpaces`` storage (publishing licence and transform
   information, MS-OFFCRYPTO section 2.2) and the ``\\x09DRMContent`` stream: an 8-byte plaintext length
   followed by the message body and attachments encrypted with AES-128 in ECB mode (MS-OFFCRYPTO 2.2.10),
   so its length is a multiple of 16 and at least the plaintext length.

What is checked here: all three layers, each block's sizes, and that the DRMContent bytes look like
ciphertext (distinct 16-byte blocks, since ECB repeats equal plaintext blocks). The licence itself is not
validated (that needs the rights-management server). Genuine files cannot be made offline; the tests build
the same structure with a real AES key.
"""

from __future__ import annotations

import io
import struct
import zlib

from gateway.mime.ciphertext import looks_random
from gateway.mime.guards import CorruptContent, LimitExceeded

MAGIC = b"\x76\xe8\x04\x60\xc4\x11\xe3\x86"
_BLOCK_MARKER = 0x0FA0
_BLOCK_HEADER = struct.Struct("<III")
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DATA_SPACES = "\x06DataSpaces"
_DRM_CONTENT = "\x09DRMContent"
_AES_BLOCK = 16
_MAX_PADDING = 4096


class NotRpmsg(CorruptContent):
    """The bytes are not an rpmsg container (or not a complete one)."""


def inflate(data: bytes, budget: int) -> bytes:
    """The storage container inside an rpmsg file; raises ``NotRpmsg`` or ``LimitExceeded``."""
    if not data.startswith(MAGIC):
        raise NotRpmsg("no rpmsg signature")
    pos = len(MAGIC)
    out = bytearray()
    while pos < len(data):
        if pos + _BLOCK_HEADER.size > len(data):
            raise NotRpmsg("truncated rpmsg block header")
        marker, inflated_size, deflated_size = _BLOCK_HEADER.unpack_from(data, pos)
        pos += _BLOCK_HEADER.size
        if marker != _BLOCK_MARKER or pos + deflated_size > len(data) or deflated_size == 0:
            raise NotRpmsg("bad rpmsg block header")
        if len(out) + inflated_size > budget:
            raise LimitExceeded(f"rpmsg content > {budget} bytes")
        inflater = zlib.decompressobj()
        try:
            block = inflater.decompress(data[pos : pos + deflated_size], inflated_size + 1)
        except zlib.error as exc:
            raise NotRpmsg("rpmsg block is not zlib data") from exc
        if len(block) != inflated_size or not inflater.eof:
            raise NotRpmsg("rpmsg block size mismatch")
        out += block
        pos += deflated_size
    if not out:
        raise NotRpmsg("rpmsg without content")
    return bytes(out)


def drm_content(container: bytes) -> bytes:
    """The encrypted body in the storage container; raises ``NotRpmsg`` unless the structure is complete."""
    import olefile

    if not container.startswith(_CFB_MAGIC):
        raise NotRpmsg("rpmsg content is not a compound file")
    try:
        ole = olefile.OleFileIO(io.BytesIO(container))
    except Exception as exc:
        raise NotRpmsg("rpmsg compound file unreadable") from exc
    try:
        if ole.get_type(_DATA_SPACES) != olefile.STGTY_STORAGE:
            raise NotRpmsg("rpmsg without DataSpaces")
        if ole.get_type(_DRM_CONTENT) != olefile.STGTY_STREAM:
            raise NotRpmsg("rpmsg without DRMContent")
        stream = bytes(ole.openstream(_DRM_CONTENT).read())
    except NotRpmsg:
        raise
    except Exception as exc:  # a damaged directory or FAT: not a container that proves anything
        raise NotRpmsg("rpmsg compound file unreadable") from exc
    finally:
        ole.close()
    if len(stream) < 8:
        raise NotRpmsg("DRMContent too short")
    (plain_size,) = struct.unpack_from("<Q", stream)
    encrypted = stream[8:]
    if len(encrypted) % _AES_BLOCK or not plain_size <= len(encrypted) <= plain_size + _MAX_PADDING:
        raise NotRpmsg("DRMContent is not AES blocks of its declared size")
    return encrypted


def proven(data: bytes, budget: int) -> tuple[bool, bytes]:
    """(True, b"") for a genuine protected message; (False, readable bytes) for an rpmsg-shaped container
    whose "encrypted" content is not ciphertext. Raises ``NotRpmsg`` when it is not an rpmsg at all."""
    encrypted = drm_content(inflate(data, budget))
    if looks_random(encrypted, ecb_block=_AES_BLOCK):
        return True, b""
    return False, encrypted
