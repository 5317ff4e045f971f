"""A message with far more MIME parts than allowed is judged on its headers, without a full parse, as unscannable."""

from __future__ import annotations

from pathlib import Path

import pytest

import gateway.scan
from gateway.config import load
from gateway.evaluator import Evaluator

REPO = Path(__file__).resolve().parents[2]


def test_part_flood_is_unscannable_without_a_full_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """30,000 tiny parts: the body is never parsed or extracted; an unscannable `limit` item that the policy
    holds for external mail."""
    evaluator = Evaluator(load(REPO / "config"))
    calls: list[str] = []
    real_parse, real_extract = gateway.scan.parse_message, gateway.scan.extract

    def parse_spy(raw: bytes):  # type: ignore[no-untyped-def]
        calls.append("parse")
        return real_parse(raw)

    def extract_spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("extract")
        return real_extract(*args, **kwargs)

    monkeypatch.setattr(gateway.scan, "parse_message", parse_spy)
    monkeypatch.setattr(gateway.scan, "extract", extract_spy)
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(30_000))
    raw = (b"From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: a@example.org\r\nSubject: many\r\n"
           b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n")
    facts, decision = evaluator.evaluate(raw, "jane.smith@cafcass.gov.uk", ["a@example.org"])
    assert calls == []
    assert [(u.location, u.reason) for u in facts.unscannable] == [("message", "limit")]
    assert decision.action.label == "quarantine"

    calls.clear()
    small = raw.split(b"--b\r\n", 3)
    normal = b"--b\r\n".join(small[:3]) + b"--b--\r\n"
    evaluator.evaluate(normal, "jane.smith@cafcass.gov.uk", ["a@example.org"])
    assert calls == ["parse", "extract"]  # the spies do see an ordinary message: the check above can fail
