"""A policy can never silently vanish (issue 13): an empty or truncated policy.yaml, or an empty detectors.yaml,
is a config error unless the file says so explicitly; an all-monitor policy loads with a warning."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import yaml

from detectors.settings import load_detectors_settings
from gateway.cli import main
from gateway.config import load
from gateway.config_errors import ConfigError
from gateway.policy.config import load_policy, policy_warnings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """`main()` configures logging onto the captured stderr; put the defaults back for the tests after this one."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    return target


def _problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as exc:
        load_policy(path)
    return [(p.key, p.expected) for p in exc.value.problems]


@pytest.mark.parametrize("text", ["", "\n", "# just a comment\n", "version: 1\n", "rules: []\n", "{}\n"])
def test_empty_policy_is_a_config_error(cfg_dir: Path, text: str) -> None:
    """A policy file with no rules (empty, comments only, `rules: []`) is refused, naming the way out."""
    policy = cfg_dir / "policy.yaml"
    policy.write_text(text)
    [(key, expected)] = _problems(policy)
    assert key == "rules"
    assert "allow_empty: true" in expected


def test_truncated_policy_is_a_config_error(cfg_dir: Path) -> None:
    """A file cut off before its rules (a half-written copy) is refused rather than read as 'no rules'."""
    policy = cfg_dir / "policy.yaml"
    text = policy.read_text()
    policy.write_text(text[: text.index("\nrules:")] + "\n")
    assert [k for k, _ in _problems(policy)] == ["rules"]


def test_every_rule_disabled_counts_as_empty(cfg_dir: Path) -> None:
    """Switching every rule off is the same as deleting them: an explicit choice is needed."""
    policy = cfg_dir / "policy.yaml"
    data = yaml.safe_load(policy.read_text())
    for rule in data["rules"]:
        rule["enabled"] = False
    policy.write_text(yaml.safe_dump(data))
    assert [k for k, _ in _problems(policy)] == ["rules"]


def test_allow_empty_is_the_explicit_choice(cfg_dir: Path) -> None:
    """`allow_empty: true` loads a policy with no rules, and check-config still warns about it."""
    policy = cfg_dir / "policy.yaml"
    policy.write_text("allow_empty: true\n")
    loaded = load_policy(policy)
    assert loaded.rules == [] and loaded.allow_empty
    assert any("no enabled rules" in w for w in policy_warnings(loaded))


def test_all_monitor_policy_loads_with_a_warning(cfg_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every rule in monitor mode is allowed (a trial run) but check-config says nothing is enforced."""
    policy = cfg_dir / "policy.yaml"
    data = yaml.safe_load(policy.read_text())
    for rule in data["rules"]:
        rule["mode"] = "monitor"
    policy.write_text(yaml.safe_dump(data))
    loaded = load_policy(policy)
    assert any("monitor" in w for w in policy_warnings(loaded))
    assert policy_warnings(load_policy(ROOT / "config" / "policy.yaml")) == []
    rc = main(["check-config", "--config", str(cfg_dir), "--no-samples"])
    err = capsys.readouterr().err
    assert rc == 0
    assert "warning:" in err and "monitor" in err


def test_check_config_refuses_an_empty_policy(cfg_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check-config` exits 2 on an empty policy.yaml, naming the file and the key."""
    (cfg_dir / "policy.yaml").write_text("")
    rc = main(["check-config", "--config", str(cfg_dir), "--no-samples"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "policy.yaml: rules:" in err


@pytest.mark.parametrize("text", ["", "# nothing\n", "{}\n"])
def test_empty_detectors_file_is_a_config_error(cfg_dir: Path, text: str) -> None:
    """An empty detectors.yaml is refused with a message that says the file is empty (not a missing key)."""
    path = cfg_dir / "detectors.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_detectors_settings(path)
    assert any("empty" in p.expected for p in exc.value.problems)
    with pytest.raises(ConfigError):
        load(cfg_dir)
