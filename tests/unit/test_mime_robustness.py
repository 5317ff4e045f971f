"""Hostile input never escapes parse_message + extract as an exception (CPython's corpus, random mutations)."""

from __future__ import annotations

import functools
import pathlib
import sysconfig

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.mime.extract import extract
from gateway.mime.limits import ExtractionLimits
from gateway.mime.model import Extraction
from gateway.mime.parse import parse_message
from tests import mime_fixtures as fx

LIMITS = ExtractionLimits(ocr=False, attachment_seconds=5)


def _corpus() -> list[pathlib.Path]:
    folder = pathlib.Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
    return sorted(folder.glob("msg_*.txt"))


def walker_survived(result: Extraction) -> bool:
    """True unless the walker itself failed (per-attachment corrupt items are expected on garbage)."""
    return not any(u.detail.startswith("extraction failed") for u in result.unscannable)


@pytest.mark.parametrize("path", _corpus() or [None], ids=lambda p: p.name if p else "missing")
def test_cpython_email_corpus(path: pathlib.Path | None) -> None:
    """Every message in CPython's own email test corpus parses and extracts without an exception."""
    if path is None:
        pytest.skip("CPython test_email data not installed")
    result = extract(parse_message(path.read_bytes()), LIMITS)
    assert isinstance(result, Extraction)
    assert walker_survived(result)


@functools.cache
def samples() -> list[bytes]:
    """A few realistic multipart messages with several attachment types, built once."""
    inner = fx.raw(fx.message(subject="Inner", body="inner body", attachments=[("i.txt", b"inner file", "text/plain")]))
    rich = fx.message(
        subject="=?utf-8?q?Caf=C3=A9?= case",
        body="Plain body about Jo",
        html="<p>HTML <b>body</b><!-- note --></p>",
        attachments=[
            ("bundle.zip", fx.zip_bytes({"a.txt": b"zip text", "b.csv": b"x,y\n1,2\n"}), "application/zip"),
            ("doc.docx", fx.docx_bytes(), "application/octet-stream"),
            ("fwd.eml", inner, "message/rfc822"),
        ],
    )
    small = fx.message(
        subject="small",
        body="short",
        attachments=[
            ("r.pdf", fx.pdf_bytes(["pdf line"]), "application/pdf"),
            ("logs.tar.gz", fx.tar_bytes({"l.txt": b"log"}, "w:gz"), "application/gzip"),
        ],
    )
    return [fx.raw(rich), fx.raw(small)]


_MUTATION = st.tuples(
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]),
    st.binary(min_size=1, max_size=8),
)


def mutate(data: bytes, mutations: list[tuple[float, str, bytes]]) -> bytes:
    buffer = bytearray(data)
    for where, op, payload in mutations:
        if not buffer:
            break
        pos = min(int(where * len(buffer)), len(buffer) - 1)
        if op == "flip":
            buffer[pos : pos + len(payload)] = payload
        elif op == "insert":
            buffer[pos:pos] = payload
        elif op == "delete":
            del buffer[pos : pos + len(payload) * 8]
        elif op == "truncate":
            del buffer[pos:]
        else:
            buffer[pos:pos] = buffer[pos : pos + 64]
    return bytes(buffer)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=1), st.lists(_MUTATION, min_size=1, max_size=6))
def test_random_mutations_never_raise(sample: int, mutations: list[tuple[float, str, bytes]]) -> None:
    """Random byte flips, insertions, deletions and truncations of real messages never raise out of extraction."""
    data = mutate(samples()[sample], mutations)
    result = extract(parse_message(data), LIMITS)
    assert isinstance(result, Extraction)
    assert walker_survived(result)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    """Arbitrary bytes parse and extract without an exception."""
    assert walker_survived(extract(parse_message(data), LIMITS))
