"""Operator ergonomics (issue 17): config errors that say which entry and what was meant, every key documented
in the shipped gateway.yaml, logs that keep references and days readable, ``digest send --date today``."""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from detectors.settings import DetectorsSettings
from gateway.commands.digest import _day
from gateway.config import GatewaySettings
from gateway.config_errors import ConfigError, _models_in, model_from_data
from gateway.logging import redact_processor

REPO = Path(__file__).resolve().parents[2]


def _problems(data: dict[str, Any], model: type[BaseModel]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        model_from_data("f.yaml", data, model)
    return [f"{p.key}: {p.expected}" for p in exc.value.problems]


def test_unknown_keys_suggest_the_documented_name() -> None:
    problems = _problems({"node_nam": "a", "store": {"pool_sise": 3}}, GatewaySettings)
    assert "node_nam: unknown key (did you mean `node_name`?)" in problems
    assert "store.pool_sise: unknown key (did you mean `pool_size`?)" in problems


def test_unknown_key_without_a_near_name_keeps_the_generic_hint() -> None:
    (problem,) = _problems({"server": {"zzzzqqq": 1}}, GatewaySettings)
    assert problem == "server.zzzzqqq: unknown key (check spelling; see the documented keys)"


def test_recognizer_problems_name_the_recognizer() -> None:
    data = yaml.safe_load((REPO / "config" / "detectors.yaml").read_text())
    recognizers = data["recognizer_registry"]["recognizers"]
    i, entry = next((i, r) for i, r in enumerate(recognizers) if r.get("patterns"))
    entry["patterns"][0]["regex"] = 5
    entry["patterns"][0]["scor"] = 1
    problems = _problems(data, DetectorsSettings)
    where = f"recognizer_registry.recognizers.{i}.patterns.0"
    assert any(p.startswith(f"{where}.regex (name: {entry['name']}): ") for p in problems), problems
    assert f"{where}.scor (name: {entry['name']}): unknown key (did you mean `score`?)" in problems


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        out.append(prefix + name)
        for sub in _models_in(field.annotation):
            out.extend(_keys(sub, f"{prefix}{name}."))
    return out


def test_every_gateway_key_is_documented_in_the_shipped_file() -> None:
    """Commented or set, each settings key appears in config/gateway.yaml (its leaf name followed by a colon)."""
    text = (REPO / "config" / "gateway.yaml").read_text()
    missing = [k for k in _keys(GatewaySettings)
               if not re.search(r"(^|[\s#{,])" + re.escape(k.rsplit(".", 1)[-1]) + ":", text, re.M)]
    assert not missing


def test_shipped_gateway_yaml_still_loads() -> None:
    data = yaml.safe_load((REPO / "config" / "gateway.yaml").read_text())
    model_from_data("gateway.yaml", data, GatewaySettings)


def test_logs_keep_references_and_days_but_not_personal_data() -> None:
    event = redact_processor(None, "", {
        "event": "x",
        "note": "released INC-2026-000123 for 943 476 5919 to jane@example.org",
        "day": "2026-12-01",
        "born": "1980-01-02",
        "listen": "127.0.0.1:9125",
        "items": [{"date": "2026-12-01", "ref": "INC-2026-000007"}],
    })
    assert event["note"] == "released INC-2026-000123 for <digits> to <address>"
    assert event["day"] == "2026-12-01"
    assert event["born"] == "<digits>"  # an ISO date outside a date key may be a date of birth
    assert event["listen"] == "127.0.0.1:9125"
    assert event["items"] == [{"date": "2026-12-01", "ref": "INC-2026-000007"}]


def test_digest_date_accepts_today_and_yesterday() -> None:
    assert _day("today") == "today"
    assert _day("Yesterday") == "yesterday"
    assert _day("2026-12-01") == date(2026, 12, 1)
    with pytest.raises(argparse.ArgumentTypeError):
        _day("tomorrow")


def test_systemd_example_config_validates_with_an_absolute_state_dir() -> None:
    """deploy/systemd/gateway.yaml is what /etc/dlpgate starts from: it validates, and its state_dir is absolute
    (a relative one would land in /etc, read-only under ProtectSystem=strict)."""
    data = yaml.safe_load((REPO / "deploy" / "systemd" / "gateway.yaml").read_text())
    settings = model_from_data("gateway.yaml", data, GatewaySettings)
    assert settings.state_dir == Path("/var/lib/dlpgate")
    unit = (REPO / "deploy" / "systemd" / "dlpgate.service").read_text()
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "StateDirectory=dlpgate",
                   "ReadWritePaths=/var/lib/dlpgate", "--config /etc/dlpgate"):
        assert option in unit
