"""Nothing about the decision leaks to outsiders (issue 13): X-DLP-* headers on mail that leaves, attachment
names in incident records and the CLI. Real SMTP on loopback, real scan workers, a real SQLite store."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

from tests.smtp_fixtures import MESSAGE, Upstream, send
from tests.store_fixtures import run_cli

ROUTE_RULES: dict[str, Any] = {
    "rules": [
        {"id": f"route-{action}", "clause": "T 1", "description": f"test rule: {action}",
         "when": {"headers": [{"name": "X-Test-Route", "pattern": f"^{action}$"}]},
         "action": "quarantine" if action in ("monitor", "quarantine") else action,
         "mode": "monitor" if action == "monitor" else "enforce",
         "reason": "Test rule."}
        for action in ("tag", "encrypt", "monitor", "quarantine")
    ]
}
SCAN = {"scan": {"enabled": True, "workers": 1}, "alerts": {"email": False},
        "notifications": {"notify_sender_on_quarantine": False}}


def routed(action: str) -> bytes:
    return b"X-Test-Route: " + action.encode() + b"\r\n" + MESSAGE


def dlp_fields(data: bytes) -> list[str]:
    """The X-DLP-* fields in the header of a relayed message, as ``Name: value`` strings."""
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    return re.findall(r"(?im)^(X-DLP-[^:]+: [^\r\n]*)", head)


async def test_no_dlp_headers_reach_outside_recipients(gateway_factory, upstream: Upstream) -> None:
    """With any non-internal recipient a relayed message carries no X-DLP-* field but the tag action's minimal
    one; all-internal mail keeps the full headers."""
    app = await gateway_factory({**SCAN, "upstream": {"url": upstream.url}}, ROUTE_RULES)
    cases = [
        ("tag", ["partner@example.org"]),
        ("tag", ["bob@cafcass.gov.uk", "partner@example.org"]),
        ("encrypt", ["partner@example.org"]),
        ("monitor", ["partner@example.org"]),
        ("tag", ["bob@cafcass.gov.uk"]),
        ("monitor", ["bob@cafcass.gov.uk"]),
    ]
    for action, rcpts in cases:
        await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", rcpts, routed(action))
    got = [dlp_fields(m.data) for m in upstream.handler.messages]
    assert got[0] == ["X-DLP-Tag: 1"]
    assert got[1] == ["X-DLP-Tag: 1"]
    assert got[2] == [] and got[3] == []
    assert got[4][0] == "X-DLP-Tag: 1" and "X-DLP-Decision: tag" in got[4] and "X-DLP-Rules: route-tag" in got[4]
    assert "X-DLP-Monitor: route-monitor" in got[5]
    assert b"[encrypt] " in upstream.handler.messages[2].data  # the encrypt action itself still happens


async def test_full_headers_setting_restores_them(gateway_factory, upstream: Upstream) -> None:
    """`headers.full_headers: always` (internal-only deployments) puts the full headers back on all mail, and the
    tag header's value is the configured one."""
    app = await gateway_factory(
        {**SCAN, "upstream": {"url": upstream.url}, "headers": {"full_headers": "always", "tag_value": "b7"}},
        ROUTE_RULES,
    )
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["partner@example.org"], routed("tag"))
    fields = dlp_fields(upstream.handler.messages[0].data)
    assert fields[0] == "X-DLP-Tag: b7" and "X-DLP-Decision: tag" in fields


CHILD_FILE = "Amelia Thompson ZW12C00345.txt"
CHILD_MEMBER = "Thompson family/Amelia contact notes.txt"


def named_attachments() -> bytes:
    """A held message whose attachment names carry a child's name and a case number (one of them inside a zip),
    with an NHS number in the attachment text so a finding's location names the file too."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@cafcass.gov.uk", "partner@example.org", "Papers"
    msg["X-Test-Route"] = "quarantine"
    msg.set_content("Papers attached.\n")
    msg.add_attachment(b"NHS number 943 476 5919\n", maintype="text", subtype="plain", filename=CHILD_FILE)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(CHILD_MEMBER, "nothing else\n")
    msg.add_attachment(buf.getvalue(), maintype="application", subtype="zip", filename="bundle.zip")
    return msg.as_bytes(policy=SMTP_POLICY)


async def test_attachment_names_are_redacted_in_records_and_cli(gateway_factory, upstream, tmp_path: Path) -> None:
    """Incident records keep attachment names (and the locations that contain them) only redacted: `quarantine
    list --json`, `quarantine show`, `incidents show` and `incidents export` never print the raw name, which
    stays inside the held message (`quarantine show --reveal`)."""
    app = await gateway_factory({**SCAN, "upstream": {"url": upstream.url}}, ROUTE_RULES)
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["partner@example.org"], named_attachments())
    cfg = str(tmp_path / "config")
    listed = await asyncio.to_thread(run_cli, "quarantine", "list", "--json", "--config", cfg, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    ref = re.search(r"INC-\d{4}-\d{6}", listed.stdout)
    assert ref is not None, listed.stdout
    outputs = [listed.stdout]
    for args in (("quarantine", "show", ref.group(0)), ("quarantine", "show", ref.group(0), "--json"),
                 ("incidents", "show", ref.group(0)), ("incidents", "show", ref.group(0), "--json"),
                 ("incidents", "export"), ("incidents", "export", "--format", "json")):
        done = await asyncio.to_thread(run_cli, *args, "--config", cfg, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr)
        outputs.append(done.stdout)
    everything = "\n".join(outputs)
    for secret in ("Amelia", "Thompson", "ZW12C00345"):
        assert secret not in everything, secret
    # Masked like a person's name, the file type kept: enough to tell the attachments apart.
    assert "A***** T******* Z*********.txt" in outputs[2] and "b*****.zip" in outputs[2]
    assert "attachment:b*****.zip/T******* f*****/A***** c****** n****.txt" in outputs[4]
    revealed = await asyncio.to_thread(run_cli, "quarantine", "show", ref.group(0), "--reveal", "--reason", "test",
                                       "--config", cfg,
                                       cwd=tmp_path)
    assert CHILD_FILE in revealed.stdout
