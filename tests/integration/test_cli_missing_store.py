"""A read-only command never creates a store (issue 13): run from another directory, or against a config whose
database does not exist, `quarantine` and `incidents` say so and exit 1 instead of showing an empty, freshly
created database ("no messages")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.store_fixtures import REPO, load_config, make_scan, make_submission, quarantine_decision, run_cli

READ_ONLY = [
    ("quarantine", "list"),
    ("quarantine", "list", "--json"),
    ("quarantine", "show", "INC-2026-000001"),
    ("incidents", "list"),
    ("incidents", "show", "INC-2026-000001"),
    ("incidents", "export"),
]
CHANGES = [
    ("quarantine", "release", "INC-2026-000001", "--reason", "x"),
    ("quarantine", "reject", "INC-2026-000001", "--reason", "x"),
    ("quarantine", "purge"),
    ("incidents", "mark", "INC-2026-000001", "false_positive", "--reason", "x"),
]


def _checkout(tmp_path: Path) -> Path:
    """A checkout-like folder: proj/config (the repository's files, relative `state_dir: var`)."""
    cfg = tmp_path / "proj" / "config"
    shutil.copytree(REPO / "config", cfg)
    return cfg


@pytest.mark.parametrize("command", READ_ONLY + CHANGES, ids=lambda c: " ".join(c[:2]))
def test_commands_refuse_a_missing_store(tmp_path: Path, command: tuple[str, ...]) -> None:
    """Exit 1 with a message naming the missing database; nothing is created, here or in the state folder."""
    cfg = _checkout(tmp_path)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    proc = run_cli(*command, "--config", str(cfg), cwd=cwd)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "no database" in proc.stderr and str(tmp_path / "proj" / "var" / "dlpgate.db") in proc.stderr
    assert "no messages" not in proc.stdout and "no incidents" not in proc.stdout
    assert list(cwd.iterdir()) == []
    assert not (tmp_path / "proj" / "var").exists()


def test_state_is_found_from_any_working_directory(tmp_path: Path) -> None:
    """What `serve` stored under proj/var is what `quarantine list` shows when run from somewhere else."""
    import asyncio

    from gateway.store import Store

    cfg_dir = _checkout(tmp_path)
    cfg = load_config(cfg_dir)
    assert cfg.state_dir == tmp_path / "proj" / "var"

    async def seed() -> str:
        store = await Store.open(cfg)
        try:
            sub = make_submission()
            return await store.quarantine(sub, make_scan(sub), quarantine_decision())
        finally:
            await store.close()

    ref = asyncio.run(seed())
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    proc = run_cli("quarantine", "list", "--json", "--config", str(cfg_dir), cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["reference"] for line in proc.stdout.splitlines()] == [ref]
    assert list(cwd.iterdir()) == []
