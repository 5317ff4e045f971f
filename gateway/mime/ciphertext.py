"""Is this byte string really ciphertext? A statistical check used before a part is trusted as encrypted.

A valid container (CMS EnvelopedData, an OpenPGP packet stream, an rpmsg file) is cheap to fake: its
"encrypted content" field can hold plain text, or plain text that is only compressed, and a reader on the
other side takes it out with a few lines of code. So a container counts as encrypted only when the bytes in
its ciphertext field look like ciphertext:

* uniform bytes: Pearson's chi-square statistic over the 256 byte values stays near its mean of 255 for
  random data of any length (variance about 2 * 255), while text, base64, UTF-16 and XOR-with-one-byte text
  land far above it. The cut-off is eight standard deviations over the mean: a real ciphertext fails it with
  a probability far below one in a billion;
* not a compressed stream: zlib, gzip, bzip2 and raw deflate output is nearly uniform too, so a complete
  stream of any of them (decoded to its end, not just a prefix) is plain data, not ciphertext;
* long enough to tell: under ``MIN_CIPHERTEXT`` bytes no test separates the two, and no real message
  encrypts to less (CMS with AES holds at least the MIME headers; OpenPGP's integrity-protected packet alone
  is longer).

For block-cipher ECB (rpmsg's AES-128-ECB), equal plaintext blocks give equal ciphertext blocks, so the test
runs on the distinct blocks only.

This is a sanity check against a cheap forgery, not cryptanalysis: someone who really encrypts with a key
the recipient has sent elsewhere *is* sending ciphertext.
"""

from __future__ import annotations

import bz2
import math
import zlib

MIN_CIPHERTEXT = 32
"""Bytes below which randomness cannot be judged (a 16-byte text and a 16-byte key look alike)."""
_SAMPLE = 1 << 16
_CHI2_LIMIT = 255 + 8 * math.sqrt(2 * 255)
_INFLATE_STEP = 1 << 20
_INFLATE_PROOF = 16 << 20
"""Inflating this much without an error proves a compressed stream (random bytes fail within a few hundred)."""


def _unique_blocks(data: bytes, block: int) -> bytes:
    seen: set[bytes] = set()
    out = bytearray()
    for start in range(0, len(data) - block + 1, block):
        piece = data[start : start + block]
        if piece not in seen:
            seen.add(piece)
            out += piece
    return bytes(out)


def _chi2(data: bytes) -> float:
    expected = len(data) / 256
    counts = [0] * 256
    for byte in data:
        counts[byte] += 1
    return sum((c - expected) ** 2 for c in counts) / expected


def _complete_stream(decompressor: zlib._Decompress, data: bytes) -> bool:
    """The data is one whole compressed stream (decoded to its end, nothing much after it)."""
    produced = 0
    pending = data
    try:
        while True:
            produced += len(decompressor.decompress(pending, _INFLATE_STEP))
            pending = decompressor.unconsumed_tail
            if decompressor.eof or not pending:
                break
            if produced >= _INFLATE_PROOF:
                return True
    except zlib.error:
        return False
    return decompressor.eof and len(decompressor.unused_data) <= 8


def compressed_plaintext(data: bytes) -> bool:
    """``data`` is a zlib, gzip, bzip2 or raw deflate stream: readable once inflated."""
    if data[:2] == b"\x1f\x8b":
        return _complete_stream(zlib.decompressobj(16 + zlib.MAX_WBITS), data)
    if data[:3] == b"BZh" and data[4:10] == b"\x31\x41\x59\x26\x53\x59":
        try:
            bz2.BZ2Decompressor().decompress(data[:4096], 4096)
        except (OSError, ValueError):
            return False
        return True
    if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
        if _complete_stream(zlib.decompressobj(), data):
            return True
    return _complete_stream(zlib.decompressobj(-zlib.MAX_WBITS), data)


def readable_form(data: bytes, budget: int) -> bytes:
    """What a reader gets out of a fake ciphertext field: inflated when it is a compressed stream (bounded by
    ``budget``), else the bytes themselves. Used so that the text hidden there is scanned."""
    if not compressed_plaintext(data):
        return data
    if data[:3] == b"BZh":
        try:
            return bz2.BZ2Decompressor().decompress(data, budget)
        except (OSError, ValueError):
            return data
    for wbits in (16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS):
        try:
            return zlib.decompressobj(wbits).decompress(data, budget)
        except zlib.error:
            continue
    return data


def looks_random(data: bytes, *, ecb_block: int = 0) -> bool:
    """Whether ``data`` can be ciphertext: long enough, uniform bytes, and not a compressed stream."""
    if len(data) < MIN_CIPHERTEXT:
        return False
    sample = data[:_SAMPLE]
    if ecb_block:
        sample = _unique_blocks(sample, ecb_block)
        if len(sample) < MIN_CIPHERTEXT:
            return False
    if _chi2(sample) > _CHI2_LIMIT:
        return False
    return not compressed_plaintext(data)
