"""Where state lives is decided once, for every command (issue 13): a relative ``state_dir`` (and a relative Maildir
upstream) is relative to the parent of the config folder, never to the working directory; the defaults packaged
in the wheel keep state in /var/lib/dlpgate as root and in $XDG_STATE_HOME/dlpgate otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gateway import config as config_module
from gateway.app import apply_overrides
from gateway.config import load, packaged_state_home

REPO = Path(__file__).resolve().parents[2]


def _checkout(tmp_path: Path, **gateway: object) -> Path:
    """A copy of the repository's config folder at tmp/proj/config."""
    cfg = tmp_path / "proj" / "config"
    shutil.copytree(REPO / "config", cfg)
    if gateway:
        data = yaml.safe_load((cfg / "gateway.yaml").read_text())
        data.update(gateway)
        (cfg / "gateway.yaml").write_text(yaml.safe_dump(data))
    return cfg


def test_relative_state_dir_is_next_to_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`state_dir: var` in proj/config/gateway.yaml means proj/var from any working directory."""
    cfg = _checkout(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load(cfg)
    assert loaded.state_dir == tmp_path / "proj" / "var"
    assert loaded.upstream_url(loaded.gateway.upstream.url) == f"maildir:{tmp_path / 'proj' / 'var' / 'maildir'}"


def test_absolute_state_dir_is_kept(tmp_path: Path) -> None:
    """An absolute state_dir is used as written."""
    cfg = _checkout(tmp_path, state_dir=str(tmp_path / "state"))
    assert load(cfg).state_dir == tmp_path / "state"


def test_checkout_default_config_keeps_var_in_the_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The README's quick start: the checkout's own config keeps its state in the checkout's var/."""
    monkeypatch.chdir(tmp_path)  # no ./config here: the default is the packaged (here: the checkout's) folder
    loaded = load(None)
    assert loaded.directory == REPO / "config"
    assert loaded.state_dir == REPO / "var"


@pytest.mark.parametrize(("euid", "xdg", "expected"), [
    (0, None, "/var/lib/dlpgate"),
    (0, "/x/state", "/var/lib/dlpgate"),
    (1000, "/x/state", "/x/state/dlpgate"),
    (1000, None, "HOME/.local/state/dlpgate"),
    (1000, "relative/not/allowed", "HOME/.local/state/dlpgate"),
])
def test_packaged_state_home(euid: int, xdg: str | None, expected: str, tmp_path: Path) -> None:
    """Root keeps packaged-default state in /var/lib/dlpgate; others in $XDG_STATE_HOME/dlpgate (XDG rules: an
    unset or relative value means ~/.local/state)."""
    env = {"HOME": str(tmp_path)} | ({"XDG_STATE_HOME": xdg} if xdg else {})
    assert packaged_state_home(euid=euid, env=env) == Path(expected.replace("HOME", str(tmp_path)))


def test_wheel_config_uses_the_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the config packaged in the wheel (gateway/default_config), relative state paths start at the state
    home instead of inside site-packages or the working directory."""
    wheel_cfg = tmp_path / "site-packages" / "gateway" / "default_config"
    shutil.copytree(REPO / "config", wheel_cfg)
    monkeypatch.setattr(config_module, "WHEEL_CONFIG_DIR", wheel_cfg)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(config_module.os, "geteuid", lambda: 1000)
    monkeypatch.chdir(tmp_path)
    loaded = load(wheel_cfg)
    assert loaded.state_dir == tmp_path / "xdg" / "dlpgate" / "var"
    assert loaded.upstream_url("maildir:var/maildir") == f"maildir:{tmp_path / 'xdg' / 'dlpgate' / 'var' / 'maildir'}"


def test_command_line_maildir_is_relative_to_the_working_directory(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve --upstream maildir:out` means ./out where the operator typed it; SMTP URLs are left alone."""
    cfg = load(_checkout(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert apply_overrides(cfg, upstream="maildir:out").gateway.upstream.url == f"maildir:{tmp_path / 'out'}"
    assert apply_overrides(cfg, upstream="smtp://mx:25").gateway.upstream.url == "smtp://mx:25"
