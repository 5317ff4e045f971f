"""Configuration loading: errors name the file, the key and what is expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gateway.config import load
from gateway.config_errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path) -> Path:
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    return cfg


def test_shipped_config_loads() -> None:
    """The config folder in the repository is valid as shipped."""
    cfg = load(REPO / "config")
    assert cfg.gateway.upstream.url.startswith("maildir:")


def test_folder_or_gateway_yaml_both_accepted(tmp_path: Path) -> None:
    """--config may name the folder or its gateway.yaml."""
    cfg = _copy(tmp_path)
    assert load(cfg).directory == load(cfg / "gateway.yaml").directory == cfg.resolve()


@pytest.mark.parametrize(
    ("patch", "key", "words"),
    [
        ({"server": {"listen_port": 70000}}, "server.listen_port", "less than or equal"),
        ({"server": {"allowed_networks": ["10.0.0.0/33"]}}, "server.allowed_networks.0", "CIDR"),
        ({"upstream": {"url": "http://x"}}, "upstream.url", "smtp://"),
        ({"serverr": {}}, "serverr", "unknown key"),
        ({"server": {"tls": {"cert": "missing.pem", "key": "missing.key"}}}, "server.tls.cert", "not found"),
    ],
)
def test_gateway_yaml_errors_name_file_and_key(tmp_path: Path, patch: dict, key: str, words: str) -> None:
    """Each bad value is reported as gateway.yaml: key: what is expected."""
    cfg = _copy(tmp_path)
    data = yaml.safe_load((cfg / "gateway.yaml").read_text())
    for section, values in patch.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section].update(values)
        else:
            data[section] = values
    (cfg / "gateway.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as exc:
        load(cfg)
    problems = [p for p in exc.value.problems if p.key == key]
    assert problems, [str(p) for p in exc.value.problems]
    assert problems[0].file.endswith("gateway.yaml") and words in problems[0].expected


def test_broken_yaml_reports_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line."""
    cfg = _copy(tmp_path)
    (cfg / "policy.yaml").write_text("rules:\n  - id: x\n   bad: [\n")
    with pytest.raises(ConfigError) as exc:
        load(cfg)
    assert "policy.yaml" in str(exc.value) and "line" in str(exc.value)


def test_smarthost_mode_needs_a_smarthost(tmp_path: Path) -> None:
    """Encrypt mode smarthost without upstream.encryption_smarthost is a start-up error, not 451s at run time."""
    cfg = _copy(tmp_path)
    policy = yaml.safe_load((cfg / "policy.yaml").read_text())
    policy["encrypt"]["mode"] = "smarthost"
    (cfg / "policy.yaml").write_text(yaml.safe_dump(policy))
    with pytest.raises(ConfigError) as exc:
        load(cfg)
    assert any(p.key == "upstream.encryption_smarthost" for p in exc.value.problems)
