"""Archives: members read and located, encryption reported, bombs and deep nesting stopped fast."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import Extraction
from gateway.mime.parse import parse_message
from tests import mime_fixtures as fx

LIMITS = ExtractionLimits(ocr=False)


def attach(name: str, data: bytes, limits: ExtractionLimits = LIMITS) -> Extraction:
    return extract(parse_message(fx.raw(fx.message(attachments=[(name, data, "application/octet-stream")]))), limits)


def texts(result: Extraction) -> dict[str, str]:
    return {c.location: c.text.strip() for c in result.chunks}


def reasons(result: Extraction) -> set[tuple[str, str]]:
    return {(u.location, u.reason) for u in result.unscannable}


def test_zip_members_and_nested_documents() -> None:
    """ZIP members are sniffed and read, including documents and archives inside them."""
    inner = fx.zip_bytes({"deeper.txt": b"deeper text"})
    bundle = fx.zip_bytes(
        {"inner/notes.pdf": fx.pdf_bytes(["PDF in zip"]), "report.docx": fx.docx_bytes(), "more.zip": inner}
    )
    result = attach("bundle.zip", bundle)
    found = texts(result)
    assert "PDF in zip" in found["attachment:bundle.zip/inner/notes.pdf"]
    assert "Body paragraph about Jane Example." in found["attachment:bundle.zip/report.docx"]
    assert found["attachment:bundle.zip/more.zip/deeper.txt"] == "deeper text"
    locations = {a.location: a for a in result.attachments}
    assert locations["attachment:bundle.zip/inner/notes.pdf"].content_type == "application/pdf"
    assert "attachment:bundle.zip/more.zip/deeper.txt" in locations
    assert result.unscannable == ()


def test_member_path_traversal_is_neutralised() -> None:
    """Member names with ../ or absolute paths become plain relative locations."""
    result = attach("evil.zip", fx.zip_bytes({"../../etc/passwd": b"root text", "/abs/x.txt": b"abs text"}))
    assert set(texts(result)) >= {"attachment:evil.zip/etc/passwd", "attachment:evil.zip/abs/x.txt"}


@pytest.mark.parametrize(
    ("name", "mode"), [("logs.tar", "w"), ("logs.tar.gz", "w:gz"), ("logs.tar.bz2", "w:bz2"), ("logs.tar.xz", "w:xz")]
)
def test_tar_family(name: str, mode: str) -> None:
    """Plain and compressed tarballs are read as one archive: attachment:logs.tar.gz/dir/file."""
    result = attach(name, fx.tar_bytes({"dir/file.txt": b"tar member text"}, mode))
    assert texts(result)[f"attachment:{name}/dir/file.txt"] == "tar member text"


def test_single_gzip_file() -> None:
    """A gzip of a single document becomes one member named without the .gz suffix."""
    import gzip

    result = attach("order.pdf.gz", gzip.compress(fx.pdf_bytes(["Gzipped PDF"])))
    assert "Gzipped PDF" in texts(result)["attachment:order.pdf.gz/order.pdf"]


def test_sevenz() -> None:
    """7z members are read."""
    result = attach("a.7z", fx.sevenz_bytes({"x/y.txt": b"seven zip text", "z.txt": b"second"}))
    assert texts(result)["attachment:a.7z/x/y.txt"] == "seven zip text"
    assert texts(result)["attachment:a.7z/z.txt"] == "second"


@pytest.mark.parametrize("header_encryption", [False, True])
def test_encrypted_7z(header_encryption: bool) -> None:
    """Password-protected 7z archives (with or without encrypted headers) are unscannable: encrypted."""
    data = fx.sevenz_bytes({"x.txt": b"secret"}, password="pw", header_encryption=header_encryption)
    assert reasons(attach("a.7z", data)) == {("attachment:a.7z", "encrypted")}


def test_aes_zip_entries_are_encrypted() -> None:
    """WinZip-AES entries are listed as attachments and reported encrypted; plain siblings are still read."""
    data = fx.aes_zip_bytes({"secret.txt": b"secret text"})
    result = attach("locked.zip", data)
    assert reasons(result) == {("attachment:locked.zip/secret.txt", "encrypted")}
    assert "attachment:locked.zip/secret.txt" in {a.location for a in result.attachments}


def test_zipcrypto_entries_are_encrypted() -> None:
    """Legacy ZipCrypto entries (flag bit 0) are reported encrypted."""
    data = fx.zipcrypto_bytes({"secret.txt": b"secret text"})
    if data is None:
        pytest.skip("zip CLI not installed")
    assert reasons(attach("locked.zip", data)) == {("attachment:locked.zip/secret.txt", "encrypted")}


def test_ratio_bomb_is_limit_and_fast() -> None:
    """A zip whose member expands ~1000x is unscannable: limit in well under a second."""
    bomb = fx.ratio_bomb()
    start = time.monotonic()
    result = attach("bomb.zip", bomb)
    assert time.monotonic() - start < 1.0
    assert reasons(result) == {("attachment:bomb.zip", "limit")}
    assert "ratio" in result.unscannable[0].detail


def test_overlapping_bomb_is_limit() -> None:
    """Central-directory entries sharing one local file (non-recursive zip bomb) are refused."""
    bomb = fx.overlapping_bomb(entries=3)
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:  # the stdlib reads it without complaint
        assert [len(archive.read(info)) for info in archive.infolist()] == [800, 800, 800]
    start = time.monotonic()
    result = attach("overlap.zip", bomb)
    assert time.monotonic() - start < 1.0
    assert reasons(result) == {("attachment:overlap.zip", "limit")}
    assert "overlapping" in result.unscannable[0].detail


def test_big_overlapping_bomb_is_limit() -> None:
    """Many overlapping entries also trip the declared-size ratio check before anything is inflated."""
    bomb = fx.overlapping_bomb(entries=2000, member=b"\0" * 1_000_000)
    start = time.monotonic()
    result = attach("overlap.zip", bomb)
    assert time.monotonic() - start < 1.0
    assert reasons(result) == {("attachment:overlap.zip", "limit")}


def test_gzip_bomb_is_limit() -> None:
    """A gzip stream expanding past the ratio cap stops with a limit item, reading no more than the cap."""
    import gzip

    result = attach("zeros.gz", gzip.compress(b"\0" * 50_000_000))
    assert reasons(result) == {("attachment:zeros.gz", "limit")}


def test_deep_zip_nesting_is_limit_and_fast() -> None:
    """zip in zip in zip ... past max_depth stops with unscannable: limit, quickly."""
    start = time.monotonic()
    result = attach("deep.zip", fx.nested_zips(20))
    assert time.monotonic() - start < 1.0
    limited = [u for u in result.unscannable if u.reason == "limit"]
    assert len(limited) == 1
    assert limited[0].detail == "depth > 5"
    assert "deep leaf text" not in " ".join(texts(result).values())


def test_nesting_within_limit_is_read() -> None:
    """Nesting up to max_depth is read in full."""
    assert "deep leaf text" in " ".join(texts(attach("deep.zip", fx.nested_zips(5))).values())


def test_archive_member_limit() -> None:
    """More members than max_archive_members: the first ones are read and the archive is a limit item."""
    members = {f"f{n:02}.txt": f"member {n}".encode() for n in range(30)}
    result = attach("many.zip", fx.zip_bytes(members), ExtractionLimits(ocr=False, max_archive_members=10))
    assert ("attachment:many.zip", "limit") in reasons(result)
    assert texts(result)["attachment:many.zip/f00.txt"] == "member 0"
    assert "attachment:many.zip/f20.txt" not in texts(result)


def test_member_byte_budget() -> None:
    """A member that would exceed max_total_bytes is listed and unscannable: limit, siblings still read."""
    members = {"small.txt": b"small text", "big.txt": b"b" * 3_000_000}
    # The decoded 3 MB attachment itself is charged first, leaving 1.5 MB for its members.
    limits = ExtractionLimits(ocr=False, max_total_bytes=4_500_000)
    result = attach("mixed.zip", fx.zip_bytes(members, zipfile.ZIP_STORED), limits)
    assert ("attachment:mixed.zip/big.txt", "limit") in reasons(result)
    assert texts(result)["attachment:mixed.zip/small.txt"] == "small text"


def test_corrupt_zip_is_corrupt() -> None:
    """A truncated zip is unscannable: corrupt."""
    data = fx.zip_bytes({"a.txt": b"x" * 1000})[:-30]
    assert reasons(attach("broken.zip", data)) == {("attachment:broken.zip", "corrupt")}


def test_eml_inside_zip() -> None:
    """A message inside an archive is walked with message-style locations."""
    inner = fx.raw(fx.message(subject="Zipped mail", body="zipped mail body"))
    found = texts(attach("mail.zip", fx.zip_bytes({"fwd.eml": inner})))
    assert found["attachment:mail.zip/fwd.eml/body"] == "zipped mail body"
    assert "Subject: Zipped mail" in found["attachment:mail.zip/fwd.eml/headers"]


def test_huge_central_directory_is_refused_unparsed() -> None:
    """A zip declaring tens of thousands of entries is a limit item without building its directory."""
    data = bytearray(fx.zip_bytes({"a.txt": b"x"}))
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 8 : eocd + 12] = (60000).to_bytes(2, "little") * 2
    start = time.monotonic()
    result = attach("many.zip", bytes(data))
    assert time.monotonic() - start < 1.0
    assert reasons(result) == {("attachment:many.zip", "limit")}
