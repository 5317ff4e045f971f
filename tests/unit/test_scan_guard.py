"""A message with far more MIME parts than allowed is judged on its headers, quickly, as unscannable."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.config import load
from gateway.scan import Scanner

REPO = Path(__file__).resolve().parents[2]


def test_part_flood_is_unscannable_fast() -> None:
    """30,000 tiny parts: no full parse; an unscannable `limit` item that the policy holds for external mail."""
    cfg = load(REPO / "config")
    scanner = Scanner.from_config(cfg)
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(30_000))
    raw = (b"From: Jane Smith <jane.smith@cafcass.gov.uk>\r\nTo: a@example.org\r\nSubject: many\r\n"
           b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n")
    t0 = time.perf_counter()
    facts = scanner.scan(raw, "jane.smith@cafcass.gov.uk", ["a@example.org"])
    assert time.perf_counter() - t0 < 2.0
    assert [(u.location, u.reason) for u in facts.unscannable] == [("message", "limit")]
    from gateway.policy.engine import decide

    assert decide(facts, cfg.policy).action.label == "quarantine"
