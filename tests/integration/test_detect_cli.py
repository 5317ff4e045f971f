"""``dlpgate detect`` end to end: a real process reading stdin and writing JSON to stdout."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CMD = [sys.executable, "-m", "gateway.cli", "detect", "--config", str(ROOT / "config")]


def test_detect_json_offsets_are_code_points_into_the_input() -> None:
    """The JSON array lists each entity with code-point offsets into stdin as given (non-ASCII included)."""
    text = "Résumé for Child: Amir Khan — DOB 01/02/2015, NHS ９４３ ４７６ ５９１９.\n"
    proc = subprocess.run([*CMD, "--json"], input=text.encode(), capture_output=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    records = json.loads(proc.stdout)
    assert [r["entity_type"] for r in records] == ["PERSON", "DATE_OF_BIRTH", "UK_NHS"]
    for r in records:
        assert set(r) == {"entity_type", "start", "end", "score", "text"}
        assert text[r["start"] : r["end"]] == r["text"]
        assert 0 < r["score"] <= 1


def test_detect_lines_answers_each_line_as_it_arrives() -> None:
    """With --lines each input line gets its own JSON array, flushed before the next line is read."""
    proc = subprocess.Popen([*CMD, "--json", "--lines"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    killer = threading.Timer(120, proc.kill)
    killer.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"Case number ZW24C50123\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # would block forever if the answer were buffered
        assert first == [{"entity_type": "UK_FAMILY_CASE_NUMBER", "start": 12, "end": 22, "score": 0.95,
                          "text": "ZW24C50123"}]
        proc.stdin.write(b"nothing to see here\r\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == []
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()


def test_detect_bad_config_exits_2(tmp_path: Path) -> None:
    """A broken detectors.yaml is a configuration error (exit 2) naming the file and key."""
    for name in ("gateway.yaml", "policy.yaml"):
        (tmp_path / name).write_text((ROOT / "config" / name).read_text())
    (tmp_path / "lists").symlink_to(ROOT / "config" / "lists")
    for extra in (ROOT / "config").iterdir():
        if extra.is_dir() and extra.name != "lists":
            (tmp_path / extra.name).symlink_to(extra)
    (tmp_path / "detectors.yaml").write_text((ROOT / "config" / "detectors.yaml").read_text() + "\nbogus_key: 1\n")
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "detect", "--json", "--config", str(tmp_path)],
                          input=b"x", capture_output=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert "detectors.yaml: bogus_key" in proc.stderr.decode()
