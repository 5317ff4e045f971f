"""Shared fixtures: real loopback SMTP servers and a gateway started from a temp config folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.app import App
from gateway.config import load
from tests.smtp_fixtures import Upstream, make_config

GatewayFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """A recording aiosmtpd server on 127.0.0.1 that plays the outbound MTA."""
    up = Upstream()
    await up.start()
    yield up
    await up.stop()


@pytest.fixture
async def gateway_factory(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Start dlpgate on a free loopback port from a temp config; stopped at the end of the test."""
    apps: list[App] = []

    async def start(gateway: dict[str, Any] | None = None, policy: dict[str, Any] | None = None,
                    **kw: Any) -> App:
        cfg_dir = make_config(tmp_path, gateway or {}, policy)
        app = App(load(cfg_dir), **kw)
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.stop(grace=2)
