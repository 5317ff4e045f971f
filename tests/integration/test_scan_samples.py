"""`dlpgate scan --json` over every policy sample, compared with samples/policy/expectations.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from tests.smtp_fixtures import REPO

SAMPLES = REPO / "samples" / "policy"


def test_scan_cli_matches_expectations() -> None:
    """Each sample gets its expected decision and deciding rules; the output follows the DESIGN.md contract."""
    # The samples are judged with their synthetic case directory and its fixed test key (issue 16).
    spec = yaml.safe_load((SAMPLES / "expectations.yaml").read_text())["cases"]
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "scan", "--json", "--config", str(REPO / "config"),
         "--cases", str(SAMPLES / spec["directory"]), str(SAMPLES)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env={**os.environ, "DLPGATE_CASES_KEY": spec["key"]},
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    records = {r["file"].rsplit("/", 1)[-1]: r for r in map(json.loads, proc.stdout.splitlines())}
    expectations = yaml.safe_load((SAMPLES / "expectations.yaml").read_text())["samples"]
    mismatches = []
    for exp in expectations:
        rec = records[exp["file"]]
        if rec["decision"] != exp["decision"] or sorted(rec["rules"]) != sorted(exp.get("rules") or []):
            mismatches.append((exp["file"], exp["decision"], exp.get("rules"), rec["decision"], rec["rules"],
                               rec["sensitivity"], [f["entity"] for f in rec["findings"]]))
    assert mismatches == []
    # the contract's keys, and no matched text without --reveal
    keys = {"file", "decision", "rules", "reasons", "monitor", "sensitivity", "findings", "unscannable",
            "recipients", "forwarded", "encrypted", "false_encryption_claim", "redaction_failed", "images_not_scanned"}
    for rec in records.values():
        assert keys <= rec.keys()
        for f in rec["findings"]:
            assert {"entity", "count", "max_score", "locations"} <= f.keys() and "texts" not in f
    assert proc.returncode == 1  # some samples would not pass unchanged
    assert "943 476 5919" not in proc.stdout + proc.stderr


def test_scan_reveal_and_unreadable_file(tmp_path) -> None:
    """--reveal adds matched texts; a file that cannot be read gives an error line, not a crash."""
    missing = tmp_path / "nope.eml"
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "scan", "--json", "--reveal", "--config", str(REPO / "config"),
         str(SAMPLES / "protected-info-fire.eml"), str(missing)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0]["decision"] == "encrypt"
    texts = [t for f in lines[0]["findings"] for t in f.get("texts", [])]
    assert any("5919" in t for t in texts)
    assert "error" in lines[1]
    assert proc.returncode == 1


def test_check_config_runs_samples() -> None:
    """check-config validates the shipped config and the samples agree with their expectations."""
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", "--config", str(REPO / "config"),
         "--samples", str(SAMPLES)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "config ok" in proc.stdout and "samples: ok" in proc.stdout


def test_check_config_reports_file_key_problem(tmp_path) -> None:
    """A broken config names the file, the key and what is expected, and exits 2."""
    import shutil

    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    data = yaml.safe_load((cfg / "gateway.yaml").read_text())
    data["server"]["listen_port"] = "twenty-five"
    data["server"]["alowed_networks"] = ["10.0.0.0/8"]
    (cfg / "gateway.yaml").write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", "--config", str(cfg), "--no-samples"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 2
    assert f"{cfg / 'gateway.yaml'}: server.listen_port:" in proc.stderr
    assert "server.alowed_networks: unknown key" in proc.stderr


def test_expectations_report_a_wrong_decision_or_rule(tmp_path) -> None:
    """check_expectations names a sample whose expected decision or deciding rules differ from the verdict
    (the check can fail: it compares with the decision's own deciding rules, not a filter of them)."""
    import shutil

    from gateway.config import load
    from gateway.expectations import check_expectations

    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    data = yaml.safe_load((folder / "expectations.yaml").read_text())
    fired = next(s for s in data["samples"] if s.get("rules"))
    passed = next(s for s in data["samples"] if s["decision"] == "pass")
    fired["rules"] = [*fired["rules"], "a-rule-that-did-not-fire"]
    passed["decision"] = "quarantine"
    data["samples"] = [fired, passed]
    (folder / "expectations.yaml").write_text(yaml.safe_dump(data))
    problems = check_expectations(load(REPO / "config"), folder)
    assert len(problems) == 2
    assert problems[0].startswith(f"{fired['file']}: expected") and "a-rule-that-did-not-fire" in problems[0]
    assert problems[1].startswith(f"{passed['file']}: expected quarantine") and "got pass" in problems[1]
