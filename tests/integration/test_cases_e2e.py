"""Case-aware recipients (issue 16) end to end: a synthetic directory imported with ``dlpgate cases import``,
then real SMTP through the gateway (workers loading the hashed snapshot, Presidio, SQLite store)."""

from __future__ import annotations

import asyncio
import os
import smtplib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.app import App
from gateway.config import load
from gateway.store import Store
from tests.smtp_fixtures import Upstream, make_config
from tests.store_fixtures import run_cli

pytestmark = pytest.mark.asyncio(loop_scope="module")

KEY = "e2e-cases-key-0123456789abcdef"
SECRETS = ("BR25C00417", "MA25P00932", "Poppy", "Ellison", "Keir", "Whitmore", "2016-05-09", "09/05/2016",
           "2018-11-23", "adebayo", "patel-solicitors", "bristol.gov.uk")
DIRECTORY = """case_number,role,name,date_of_birth,email
BR25C00417,child,Poppy Ellison,2016-05-09,
BR25C00417,party,Dean Ellison,,
BR25C00417,professional,Ruth Adebayo,,r.adebayo@adebayo-family-law.co.uk
BR25C00417,professional,,,@bristol.gov.uk
MA25P00932,child,Keir Whitmore,2018-11-23,
MA25P00932,professional,Sam Patel,,s.patel@patel-solicitors.co.uk
"""
SENDER = "jane.smith@cafcass.gov.uk"


def message(to: str, subject: str, body: str) -> bytes:
    text = (f"From: Jane Smith <{SENDER}>\nTo: {to}\nSubject: {subject}\nMessage-ID: <{abs(hash(body))}@t>\n"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nDear colleague,\n\n{body}\n\n"
            "Kind regards,\n\nJane Smith\nFamily Court Adviser\nCafcass\n")
    return text.replace("\n", "\r\n").encode()


class Env:
    def __init__(self, app: App, upstream: Upstream, cfg_dir: Path) -> None:
        self.app, self.upstream, self.cfg_dir = app, upstream, cfg_dir

    @property
    def store(self) -> Store:
        assert isinstance(self.app.store, Store)
        return self.app.store

    async def send(self, rcpt: str, subject: str, body: str) -> tuple[int, str]:
        def go() -> tuple[int, str]:
            client = smtplib.SMTP("127.0.0.1", self.app.port)
            try:
                client.ehlo("c")
                client.mail(SENDER)
                client.rcpt(rcpt)
                code, text = client.data(message(rcpt, subject, body))
                return code, text.decode()
            finally:
                client.quit()

        return await asyncio.to_thread(go)

    async def incident(self, text: str) -> object:
        ref = text[text.index("INC-"):].split()[0].rstrip(".,)")
        return await self.store.get_incident(ref)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("cases")
    old = os.environ.get("DLPGATE_CASES_KEY")
    os.environ["DLPGATE_CASES_KEY"] = KEY  # the workers are spawned from this process and inherit it
    up = Upstream()
    await up.start()
    cfg_dir = make_config(tmp, {"upstream": {"url": up.url}, "scan": {"enabled": True, "workers": 1},
                                "notifications": {"notify_sender_on_quarantine": False}})
    (tmp / "dir.csv").write_text(DIRECTORY)
    done = await asyncio.to_thread(run_cli, "cases", "import", str(tmp / "dir.csv"), "--config", str(cfg_dir),
                                   cwd=tmp)
    assert done.returncode == 0, done.stderr
    app = App(load(cfg_dir))
    await app.start()
    yield Env(app, up, cfg_dir)
    await app.stop(grace=5)
    await up.stop()
    if old is None:
        os.environ.pop("DLPGATE_CASES_KEY", None)
    else:
        os.environ["DLPGATE_CASES_KEY"] = old


async def test_database_and_snapshot_hold_no_clear_directory_values(env: Env) -> None:
    """A dump of the database (and the workers' snapshot file) reveals no case number, name, date or address."""
    cfg = load(env.cfg_dir)
    blobs = [(cfg.state_dir / "dlpgate.db").read_bytes()]
    blobs += [p.read_bytes() for p in (cfg.state_dir / "cases").glob("*.npz")]
    assert len(blobs) == 2
    for blob in blobs:
        low = blob.lower()
        for value in SECRETS:
            assert value.lower().encode() not in low, value
    status = await env.store.case_directory_status()
    assert status is not None and status.rows == 6 and status.cases == 2


async def test_right_solicitor_gets_it_encrypted_as_today(env: Env) -> None:
    """A case email to the solicitor on that case passes the case check and is encrypted by subject tag."""
    before = len(env.upstream.handler.messages)
    code, _ = await env.send("r.adebayo@adebayo-family-law.co.uk", "Position statement",
                             "Our position on case BR25C00417: Poppy Ellison (DOB 09/05/2016) is settled.")
    assert code == 250
    got = env.upstream.handler.messages[before].data
    assert b"Subject: [encrypt] Position statement" in got


async def test_solicitor_on_another_case_is_quarantined_naming_only_the_address(env: Env) -> None:
    """The same message to another case's solicitor is held; the record flags the recipient, not the case."""
    before = len(env.upstream.handler.messages)
    code, text = await env.send("s.patel@patel-solicitors.co.uk", "Position statement",
                                "Our position on case BR25C00417: Poppy Ellison (DOB 09/05/2016) is settled.")
    assert code == 250 and "held for review" in text
    assert len(env.upstream.handler.messages) == before
    inc = await env.incident(text)
    assert inc is not None
    assert "case-recipient-mismatch" in [r["rule_id"] for r in inc.rules]  # type: ignore[attr-defined]
    assert inc.recipients[0].get("not_on_case") is True  # type: ignore[attr-defined]


async def test_known_child_without_case_number_or_ner_is_caught(env: Env) -> None:
    """A directory child written "SURNAME, Forename" with a date of birth and no case number: a KNOWN_CHILD
    finding from the directory itself (no NER needed), held for a recipient who is not on the child's case."""
    code, text = await env.send("r.adebayo@adebayo-family-law.co.uk", "Update",
                                "Re WHITMORE, Keir (23/11/2018) the contact notes are attached.")
    assert code == 250 and "held for review" in text
    inc = await env.incident(text)
    assert "KNOWN_CHILD" in [e["entity"] for e in inc.entities]  # type: ignore[attr-defined]
    assert inc.sensitivity == "special_category"  # type: ignore[attr-defined]


async def test_two_children_from_two_cases_are_held(env: Env) -> None:
    """Children from two directory cases in one message to a court (always allowed): IA 4.14 holds it."""
    code, text = await env.send("listing.office@justice.gov.uk", "encrypt: listing",
                                "Please list Poppy Ellison (born 09/05/2016) and Keir Whitmore (born 23/11/2018) "
                                "on the same afternoon.")
    assert code == 250 and "held for review" in text
    inc = await env.incident(text)
    assert [r["rule_id"] for r in inc.rules if r.get("mode") == "enforce"] == ["multiple-known-cases-external"]  # type: ignore[attr-defined]


async def test_first_time_recipient_is_recorded_in_monitor_mode_then_learnt(env: Env) -> None:
    """Personal data to a new address: delivered (monitor), with the monitor hit in the incident; after the
    delivery the pair is known, so the next message to it is no longer first-time."""
    body = "The report on Harvey Lund (date of birth 03/06/2015) will be filed on Friday."
    code, _ = await env.send("d.cole@cole-family-law.co.uk", "Report", body)
    assert code == 250
    first = (await env.store.list_incidents(limit=1))[0]
    assert "first-time-recipient" in [r["rule_id"] for r in first.monitor_rules]
    assert first.recipients[0].get("first_time") is True
    await asyncio.sleep(0.5)  # the history is written in the background after the upstream's 250
    code, _ = await env.send("d.cole@cole-family-law.co.uk", "Report 2", body)
    second = (await env.store.list_incidents(limit=1))[0]
    assert second.reference != first.reference
    assert "first-time-recipient" not in [r["rule_id"] for r in second.monitor_rules]
    assert env.app.runtime is not None and env.app.runtime.history.unknown == 0


async def test_store_down_makes_first_time_unknown_not_451(env: Env) -> None:
    """With the history unreadable the message still flows: the condition is unknown, counted, never a 451."""
    rt = env.app.runtime
    assert rt is not None
    real = env.store.known_pairs

    async def broken(*a: object, **k: object) -> set[str]:
        raise OSError("database gone")

    env.store.known_pairs = broken  # type: ignore[method-assign]
    try:
        code, _ = await env.send("new.person@another-firm.co.uk", "Report",
                                 "The report on Harvey Lund (date of birth 03/06/2015) will be filed on Friday.")
    finally:
        env.store.known_pairs = real  # type: ignore[method-assign]
    assert code == 250
    assert rt.history.unknown == 1
    inc = (await env.store.list_incidents(limit=1))[0]
    assert "first-time-recipient" not in [r["rule_id"] for r in inc.monitor_rules]


async def test_failed_import_leaves_the_old_directory(env: Env) -> None:
    """An import that fails part-way (here a duplicate row hash) rolls back: the previous directory stays whole."""
    from detectors.casedir import read_directory

    before = await env.store.case_directory_status()
    rows = read_directory(DIRECTORY.splitlines(), KEY.encode()).adds
    with pytest.raises(Exception):
        await env.store.replace_case_directory([*rows, rows[0]], key_id="x", actor="test")
    after = await env.store.case_directory_status()
    assert after == before


async def test_import_without_key_is_refused_with_how_to_set_one(tmp_path: Path) -> None:
    """No key: nothing is imported, and the message names the variable (and the key file) to set."""
    cfg_dir = make_config(tmp_path, {})
    (tmp_path / "dir.csv").write_text(DIRECTORY)
    done = await asyncio.to_thread(run_cli, "cases", "import", str(tmp_path / "dir.csv"), "--config", str(cfg_dir),
                                   cwd=tmp_path, env={"DLPGATE_CASES_KEY": ""})
    assert done.returncode == 1
    err = done.stderr
    assert "DLPGATE_CASES_KEY" in err and "cases.key_file" in err and "keygen" in err
    assert not (tmp_path / "state" / "dlpgate.db").exists()
