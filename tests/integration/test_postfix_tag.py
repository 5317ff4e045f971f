"""The tag field as docs/deploy.md documents it, with a real Postfix behind dlpgate (issue 13): the `tag` action's
`X-DLP-Tag` is acted on by Postfix's `header_checks` and stripped by `smtp_header_checks`, taken verbatim from
deploy/postfix/main.cf and the deploy page, so nothing dlpgate adds goes past the MTA."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from gateway.app import App
from gateway.config import load
from tests.postfix_fixtures import Postfix, new_root, postfix_available
from tests.smtp_fixtures import MESSAGE, REPO, Upstream, make_config, send

pytestmark = [
    pytest.mark.postfix,
    pytest.mark.skipif(not postfix_available(), reason="needs Debian's postfix and swaks, as root"),
]

RULES = {"rules": [{"id": "route-tag", "clause": "T 1", "description": "test rule: tag",
                    "when": {"headers": [{"name": "X-Test-Route", "pattern": "^tag$"}]},
                    "action": "tag", "reason": "Test rule."}]}


def documented_lines() -> tuple[str, str]:
    """The strip line from deploy/postfix/main.cf and the act line from docs/deploy.md."""
    main_cf = (REPO / "deploy" / "postfix" / "main.cf").read_text()
    strip = next(line for line in main_cf.splitlines() if line.startswith("smtp_header_checks ="))
    deploy = (REPO / "docs" / "deploy.md").read_text()
    act = next(line for line in deploy.splitlines() if line.startswith("header_checks ="))
    return act, strip


async def test_postfix_acts_on_the_tag_and_strips_every_dlp_field(tmp_path: Path) -> None:
    """A tagged message goes where Postfix's header_checks sends it, the other one to the relay host; neither
    carries an X-DLP field when Postfix hands it on."""
    relay, filtered = Upstream(), Upstream()
    await relay.start()
    await filtered.start()
    act, strip = documented_lines()
    act = act.replace("[tag-relay.example.org]:25", f"[127.0.0.1]:{filtered.port}")
    postfix = Postfix(new_root(), extra_main=(
        "virtual_mailbox_domains =", f"relayhost = [127.0.0.1]:{relay.port}", "smtp_tls_security_level = none",
        act, strip,
    ))
    await asyncio.to_thread(postfix.start)
    cfg_dir = make_config(tmp_path, {"upstream": {"url": f"smtp://127.0.0.1:{postfix.port}"},
                                     "scan": {"enabled": True, "workers": 1}, "alerts": {"email": False}}, RULES)
    app = App(load(cfg_dir))
    await app.start()
    try:
        tagged = b"X-Test-Route: tag\r\n" + MESSAGE.replace(b"Quarterly figures", b"Tagged one")
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["partner@example.org"], tagged)
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["partner@example.org"], MESSAGE)
        for _ in range(300):
            if filtered.handler.messages and relay.handler.messages:
                break
            await asyncio.sleep(0.1)
        assert [b"Tagged one" in m.data for m in filtered.handler.messages] == [True]
        assert [b"Quarterly figures" in m.data for m in relay.handler.messages] == [True]
        for m in filtered.handler.messages + relay.handler.messages:
            assert not re.search(rb"(?im)^x-dlp-", m.data.split(b"\r\n\r\n", 1)[0]), m.data[:600]
    finally:
        await app.stop(grace=5)
        await asyncio.to_thread(postfix.stop)
        shutil.rmtree(postfix.root, ignore_errors=True)
        await relay.stop()
        await filtered.stop()
