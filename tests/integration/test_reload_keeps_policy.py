"""SIGHUP never leaves the gateway with less policy than it had (issue 13): an empty or truncated policy.yaml or an
empty detectors.yaml is refused by reload, and the running rules keep applying."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_crash_safety import _free_port, _wait_port
from tests.smtp_fixtures import make_config

DLPGATE = [sys.executable, "-m", "gateway.cli"]


async def test_reload_refuses_an_empty_policy_and_detectors(gateway_factory, upstream) -> None:
    """An empty policy.yaml, a truncated one and an empty detectors.yaml each keep the running generation."""
    app = await gateway_factory({"upstream": {"url": upstream.url}})
    rules_before = [r.id for r in app.cfg.policy.rules]
    policy = app.cfg.directory / "policy.yaml"
    detectors = app.cfg.directory / "detectors.yaml"
    good_policy, good_detectors = policy.read_text(), detectors.read_text()

    policy.write_text("")
    assert await app.reload() is False
    policy.write_text(good_policy[: good_policy.index("\nrules:")] + "\n")
    assert await app.reload() is False
    policy.write_text(good_policy)
    detectors.write_text("")
    assert await app.reload() is False
    assert app.generation == 1
    assert [r.id for r in app.cfg.policy.rules] == rules_before and rules_before

    detectors.write_text(good_detectors)
    policy.write_text("allow_empty: true\n")
    assert await app.reload() is True  # the explicit choice is honoured
    assert app.cfg.policy.rules == []


def test_sighup_with_an_emptied_policy_keeps_the_rules(tmp_path: Path) -> None:
    """A real `serve` process sent SIGHUP after policy.yaml was emptied logs reload_failed and keeps running."""
    cfg = make_config(tmp_path, {"upstream": {"url": f"maildir:{tmp_path / 'md'}"}})
    port = _free_port()
    proc = subprocess.Popen([*DLPGATE, "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                            cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        _wait_port(port, proc)
        (cfg / "policy.yaml").write_text("")
        os.kill(proc.pid, signal.SIGHUP)
        time.sleep(2)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert b'"event": "reload_failed"' in err and b'"key": "rules"' in err
    assert b'"event": "reloaded"' not in err
