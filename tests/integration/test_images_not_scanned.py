"""OCR switched on without tesseract (issue 12, section 7d): warned at start, by check-config and on /readyz;
images not read for text are a policy fact (``images_not_scanned``) that no default rule acts on."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from gateway.mime import ocr
from gateway.mime.limits import ExtractionLimits
from tests import mime_fixtures as fx
from tests.smtp_fixtures import REPO, Upstream


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_ocr_problem_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No problem with OCR off or working; a missing binary and missing language data are each named."""
    assert ocr.ocr_problem(ExtractionLimits(ocr=False)) is None
    monkeypatch.setattr(ocr, "tesseract_path", lambda: None)
    problem = ocr.ocr_problem(ExtractionLimits(ocr=True))
    assert problem is not None and "tesseract" in problem and "not text-scanned" in problem
    monkeypatch.setattr(ocr, "tesseract_path", lambda: "/usr/bin/tesseract")
    monkeypatch.setattr(ocr, "_languages", lambda binary: frozenset({"osd"}))
    assert "'eng'" in (ocr.ocr_problem(ExtractionLimits(ocr=True)) or "")
    monkeypatch.setattr(ocr, "_languages", lambda binary: frozenset({"eng", "osd"}))
    assert ocr.ocr_problem(ExtractionLimits(ocr=True)) is None


def test_check_config_warns(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config still passes (OCR is optional) but says images will not be read."""
    from gateway.commands import check_config

    monkeypatch.setattr(ocr, "tesseract_path", lambda: None)
    rc = check_config.run(argparse.Namespace(config=str(REPO / "config"), samples=None, no_samples=True))
    err = capsys.readouterr().err
    assert rc == 0
    assert "warning:" in err and "tesseract" in err and "gateway.yaml" in err


async def test_readyz_and_start_log_show_missing_ocr(gateway_factory, upstream: Upstream,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """/readyz stays ready (mail keeps flowing) and lists ``ocr WARN ...``; the start-up log warns once."""
    from gateway.logging import configure_logging

    buffer = io.StringIO()
    configure_logging(json=True, stream=buffer)
    monkeypatch.setattr(ocr, "tesseract_path", lambda: None)
    mport = _free_port()
    app = await gateway_factory({"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
                                 "metrics": {"listen": f"127.0.0.1:{mport}"}})
    for _ in range(100):
        if app.metrics is not None and app.metrics.port:
            break
        await asyncio.sleep(0.02)
    status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{mport}/readyz")
    assert status == 200, body
    assert "ocr WARN" in body and "tesseract" in body
    assert '"event": "degraded"' in buffer.getvalue() and '"check": "ocr"' in buffer.getvalue()
    monkeypatch.setattr(ocr, "tesseract_path", lambda: shutil.which("tesseract") or "/usr/bin/tesseract")
    monkeypatch.setattr(ocr, "_languages", lambda binary: frozenset({"eng"}))
    status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{mport}/readyz")
    assert status == 200 and "WARN" not in body


def test_images_not_scanned_in_scan_json_and_policy(tmp_path: Path) -> None:
    """With OCR off, an image is listed in ``images_not_scanned``; the default policy passes it (a logo never
    holds mail), and the commented example rule, once enabled, holds it."""
    from PIL import Image

    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    gateway = yaml.safe_load((config / "gateway.yaml").read_text())
    gateway.setdefault("extraction", {})["ocr"] = False
    (config / "gateway.yaml").write_text(yaml.safe_dump(gateway))
    image = io.BytesIO()
    Image.new("RGB", (200, 60), (0, 70, 140)).save(image, format="PNG")
    mail = tmp_path / "mail"
    mail.mkdir()
    msg = fx.message(subject="Venue booking", body="Thanks for confirming.",
                     attachments=[("logo.png", image.getvalue(), "image/png")])
    (mail / "logo.eml").write_bytes(msg.as_bytes())
    (mail / "plain.eml").write_bytes(fx.message(subject="Venue booking", body="Thanks.").as_bytes())

    def scan() -> dict[str, dict[str, object]]:
        proc = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "scan", "--json", "--config", str(config), "--mail-from",
             "jane.smith@cafcass.gov.uk", "--rcpt", "d.harris@northfield-venues.co.uk", str(mail)],
            capture_output=True, text=True, timeout=600, cwd=REPO,
        )
        return {Path(r["file"]).name: r for r in map(json.loads, proc.stdout.splitlines())}

    records = scan()
    assert records["logo.eml"]["images_not_scanned"] == ["attachment:logo.png"]
    assert records["logo.eml"]["decision"] == "pass" and records["plain.eml"]["images_not_scanned"] == []
    policy = yaml.safe_load((config / "policy.yaml").read_text())
    policy["rules"].append({
        "id": "images-not-scanned-external", "clause": "IT 2.7(o)", "action": "quarantine",
        "when": {"recipient_classes": ["external"], "images_not_scanned": True},
        "reason": "Held for review: an image could not be read for text. Ref {ref}.",
    })
    (config / "policy.yaml").write_text(yaml.safe_dump(policy))
    records = scan()
    assert records["logo.eml"]["decision"] == "quarantine"
    assert records["logo.eml"]["rules"] == ["images-not-scanned-external"]
    assert records["plain.eml"]["decision"] == "pass"
