"""Defects found in the layering review (issue 10), each pinned by a test that failed before its fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from gateway import cli
from gateway.config import load
from gateway.evaluator import load_certificates
from tests.unit.test_encrypt_actions import make_cert

REPO = Path(__file__).resolve().parents[2]


def test_missing_command_module_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command listed in the CLI whose module is missing fails loudly instead of vanishing from --help."""
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "no_such_command"))
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser()


def test_smime_certificates_load_from_the_folder_the_policy_names(tmp_path: Path) -> None:
    """encrypt.smime.cert_dir is relative to the policy file, for validation and for use alike, also when
    files.policy is in a subfolder of the config folder."""
    cfg_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg_dir)
    sub = cfg_dir / "policies"
    sub.mkdir()
    policy = yaml.safe_load((cfg_dir / "policy.yaml").read_text())
    policy["encrypt"]["mode"] = "smime"
    policy["encrypt"].setdefault("smime", {})["cert_dir"] = "certs"
    for key in ("freemail", "storage_or_ai", "partner_domains", "personal_directory", "case_always_allowed"):
        if policy.get("recipients", {}).get(key):
            policy["recipients"][key] = str((cfg_dir / policy["recipients"][key]).resolve())
    for group in policy.get("sender_groups", {}).values():
        if group.get("file"):
            group["file"] = str((cfg_dir / group["file"]).resolve())
    (sub / "policy.yaml").write_text(yaml.safe_dump(policy))
    (sub / "certs").mkdir()
    cert, _ = make_cert("bob@partner.example")
    (sub / "certs" / "bob.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    gw = yaml.safe_load((cfg_dir / "gateway.yaml").read_text()) or {}
    gw.setdefault("files", {})["policy"] = "policies/policy.yaml"
    (cfg_dir / "gateway.yaml").write_text(yaml.safe_dump(gw))

    cfg = load(cfg_dir)
    certs = load_certificates(cfg.policy)
    assert certs is not None
    assert certs.get("bob@partner.example") is not None
