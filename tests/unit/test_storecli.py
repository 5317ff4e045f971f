"""The governance commands' shared plumbing: logging set-up and formatting."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from gateway.commands.storecli import ensure_logging
from gateway.notify.formats import fmt_hours
from gateway.notify.templates import template_env
from tests.store_fixtures import load_config, write_config

NHS_NUMBER = "943 476 5919"
ADDRESS = "peregrine.oakhurst@gmail.com"


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """Start with structlog unconfigured (as a library caller would) and leave stdlib and structlog as found."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_ensure_logging_redacts_personal_values(fresh_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    """The governance commands' logging masks addresses and identifiers like serve's does (issue 10 defect)."""
    ensure_logging()
    structlog.get_logger("test").warning("release.failed", detail=f"to {ADDRESS} about NHS {NHS_NUMBER}",
                                         subject="Contact arrangements")
    err = capsys.readouterr().err
    assert "release.failed" in err
    assert ADDRESS not in err and NHS_NUMBER not in err and "Contact arrangements" not in err
    assert "<address>" in err and "<digits>" in err


def test_durations_read_the_same_on_screen_and_in_mail(tmp_path: Path) -> None:
    """One formatter for time left: the CLI's tables and the templates' ``hours`` filter."""
    assert fmt_hours(5.12) == "5h07m" and fmt_hours(-0.5) == "-0h30m" and fmt_hours(0) == "0h00m"
    cfg = load_config(write_config(tmp_path))
    assert template_env(cfg).filters["hours"] is fmt_hours
