"""An encryption claim must be proven (issue 12, sections 1 and 4), through real SMTP and `dlpgate scan --json`.

Real encrypted messages are made here with gpg (public-key, symmetric, armoured, binary, inline, PGP/MIME) and
openssl (AES-256 and 3DES S/MIME) and must still count as encrypted; forgeries of every label (armour lines,
S/MIME and PGP/MIME content types, message.rpmsg, Content-Class, a gpg message that is only signed) must be
held for an external recipient with their content read; what stays readable around real ciphertext (the
subject, text around inline armour) is decided as usual; a trigger only an RFC 2047 decoder sees gets the plain
tag. Several variants per class: the gateway is re-probed with variants nobody here has seen.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

from tests import crypto_fixtures as cf
from tests.smtp_fixtures import REPO, Upstream

pytestmark = pytest.mark.skipif(cf.GPG is None or shutil.which("openssl") is None, reason="needs gpg and openssl")
SENDER = "jane.smith@cafcass.gov.uk"
RCPT = "n.okafor@okafor-law.co.uk"
PASS, ENCRYPT, HOLD = "pass", "encrypt", "quarantine"


def _attached(name: str, data: bytes, subject: str = "Court bundle") -> bytes:
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (cf.HEAD.format(subject=subject, mid=name) + 'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
            + "--m\r\nContent-Type: text/plain\r\n\r\nDear Nia,\r\nThe bundle is attached.\r\nJane\r\n"
            + f'--m\r\nContent-Type: application/octet-stream; name="{name}"\r\n'
            + f'Content-Disposition: attachment; filename="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + b64 + "--m--\r\n").encode()


def _inline(text: str, subject: str = "Court report", mid: str = "inline") -> bytes:
    return (cf.HEAD.format(subject=subject, mid=mid) + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + text).encode()


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, str]]:
    """name -> (message bytes, expected decision for an external recipient)."""
    tmp = tmp_path_factory.mktemp("crypto")
    gpg = cf.Gpg(tmp / "gnupg")
    mime = ("Content-Type: text/plain; charset=utf-8\r\n\r\n" + cf.CHILD + "\r\n").encode()
    signed = gpg.sign(cf.CHILD.encode()).decode()
    tampered = gpg.encrypt(mime).decode().splitlines()
    crc = next(i for i, line in enumerate(tampered) if line.startswith("=") and len(line) == 5)
    tampered[crc] = "=AAAA" if tampered[crc] != "=AAAA" else "=BBBB"
    made = {
        # real ciphertext: encrypted, relayed unchanged
        "pgp-mime.eml": (cf.pgp_mime(gpg.encrypt(mime).decode(), mid="v1"), PASS),
        "pgp-mime-symmetric.eml": (cf.pgp_mime(gpg.symmetric(mime).decode(), mid="v2"), PASS),
        "pgp-inline.eml": (_inline("Hi Nia,\r\n\r\n" + gpg.encrypt(cf.CHILD.encode()).decode() + "\r\nJane\r\n"), PASS),
        "pgp-binary-file.eml": (_attached("bundle.pdf.gpg", gpg.encrypt(b"%PDF-1.4 " + mime, armor=False)), PASS),
        "smime-openssl-aes.eml": (cf.openssl_smime(tmp), PASS),
        "smime-openssl-3des.eml": (cf.openssl_smime(tmp, cipher="-des3"), PASS),
        "smime-gateway-builder.eml": (cf.smime_message(mid="v3"), PASS),
        "cms-gcm-ec-openssl.eml": (cf.openssl_cms_ec_gcm(tmp), PASS),
        "rpmsg.eml": (cf.rpmsg_message(cf.rpmsg_container(mime * 30)), PASS),
        # false claims: held, content read
        "fake-armour.eml": (_inline("-----BEGIN PGP MESSAGE-----\r\n\r\n" + cf.CHILD
                                    + "\r\n-----END PGP MESSAGE-----\r\n", mid="f1"), HOLD),
        "fake-armour-base64.eml": (_inline(cf.armour((cf.CHILD * 2).encode()), mid="f2"), HOLD),
        "fake-armour-signed-only.eml": (_inline(signed, mid="f3"), HOLD),
        "fake-armour-bad-crc.eml": (cf.pgp_mime("\n".join(tampered), mid="f4"), HOLD),
        "fake-pgp-mime.eml": (cf.pgp_mime(cf.CHILD, mid="f5"), HOLD),
        "fake-smime.eml": (cf.smime_shaped(cf.CHILD), HOLD),
        "fake-smime-cms-shell.eml": (cf.smime_shaped(base64.b64encode(
            cf.fake_enveloped_der((cf.CHILD * 3).encode())).decode()), HOLD),
        "fake-rpmsg-name.eml": (cf.rpmsg_message(cf.CHILD.encode(), content_class=False), HOLD),
        "fake-rpmsg-plain-drm.eml": (cf.rpmsg_message(cf.rpmsg_container((cf.CHILD * 30).encode(), encrypt=False)),
                                     HOLD),
        "fake-content-class.eml": (cf.plain_message(mid="f6").replace(
            b"MIME-Version", b"Content-Class: rpmsg.message\r\nMIME-Version"), HOLD),
        "fake-gpg-name.eml": (_attached("bundle.pdf.gpg", cf.CHILD.encode()), HOLD),
        # readable parts of real ciphertext are decided as usual
        "pgp-mime-subject-leak.eml": (cf.pgp_mime(gpg.encrypt(mime).decode(), subject=cf.CHILD, mid="r1"), ENCRYPT),
        "pgp-inline-text-around.eml": (_inline(cf.CHILD + "\r\n\r\n" + gpg.encrypt(b"x" * 200).decode(), mid="r2"),
                                       ENCRYPT),
        # section 4: a trigger only a decoder sees
        "encoded-trigger.eml": (cf.plain_message(subject="=?utf-8?q?encrypt?= Court report", mid="t1"), ENCRYPT),
        "encoded-trigger-base64.eml": (cf.plain_message(
            subject="=?utf-8?b?" + base64.b64encode(b"ENCRYPT: report").decode() + "?=", mid="t2"), ENCRYPT),
    }
    # gpg and openssl write LF; SMTP wants CRLF (a bare LF is refused as smuggling)
    return {name: (raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), want) for name, (raw, want) in made.items()}


def _send(port: int, raw: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.ehlo("client.test")
        client.mail(SENDER)
        client.rcpt(RCPT)
        return client.data(raw)


async def test_claims_through_real_smtp(gateway_factory, upstream: Upstream,
                                        variants: dict[str, tuple[bytes, str]]) -> None:
    """Real ciphertext is relayed byte for byte; every false claim is held (250 after the quarantine commit,
    nothing upstream); readable leaks around real ciphertext and encoded triggers get the plain tag."""
    app = await gateway_factory({"upstream": {"url": upstream.url}, "scan": {"enabled": True, "workers": 1},
                                 "notifications": {"notify_sender_on_quarantine": False}})
    wrong = []
    for name, (raw, expected) in variants.items():
        before = len(upstream.handler.messages)
        code, text = await asyncio.to_thread(_send, app.port, raw)
        got = upstream.handler.messages[before:]
        if expected == HOLD:
            ok = code == 250 and b"held for review" in text and not got
        elif expected == PASS:
            ok = code == 250 and len(got) == 1 and got[0].data.endswith(raw)
        else:
            head = got[0].data.split(b"\r\n\r\n", 1)[0] if len(got) == 1 else b""
            ok = code == 250 and b"\r\nSubject: [encrypt] " in head
        if not ok:
            wrong.append((name, expected, code, text[:80], len(got)))
    assert wrong == []


def test_claims_through_scan_json(tmp_path: Path, variants: dict[str, tuple[bytes, str]]) -> None:
    """`dlpgate scan --json` shows the facts: encrypted for real ciphertext, false_encryption_claim (with where
    and what) for forgeries, and the forged content found; the contract's new keys are always there."""
    folder = tmp_path / "mail"
    folder.mkdir()
    for name, (raw, _) in variants.items():
        (folder / name).write_bytes(raw)
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "scan", "--json", "--config", str(REPO / "config"), "--mail-from",
         SENDER, "--rcpt", RCPT, str(folder)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    records = {Path(r["file"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    wrong = []
    for name, (_, expected) in variants.items():
        rec = records[name]
        claims = rec["false_encryption_claim"]
        entities = {f["entity"] for f in rec["findings"]}
        if expected == PASS:
            ok = rec["decision"] == "pass" and rec["encrypted"] and claims == []
        elif expected == HOLD:
            ok = (rec["decision"] == "quarantine" and rec["rules"] == ["false-encryption-claim-external"]
                  and not rec["encrypted"] and claims and all({"location", "claim"} == c.keys() for c in claims))
            ok = ok and ("UK_NHS" in entities or "bad-crc" in name)  # the forged content was read
        else:
            ok = rec["decision"] == "encrypt" and not rec["encrypted"] and claims == []
        if not ok:
            wrong.append((name, expected, rec["decision"], rec["rules"], rec["encrypted"], claims))
    assert wrong == []
    assert "943 476 5919" not in proc.stdout  # no matched text without --reveal
