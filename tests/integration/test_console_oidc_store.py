"""The store's part of single sign-on (issues 14 and 15) on SQLite and PostgreSQL: SSO accounts made and
re-roled at sign-in with audit rows, local and disabled accounts refused, and a sender's messages matched on the
whole envelope address (case folded), never a part of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load
from gateway.console.security import hash_password
from gateway.store import Conflict, Store
from tests.store_fixtures import make_scan, make_submission, quarantine_decision, store_url, write_config

__all__ = ["store_url"]

IDP = "https://idp.test"


async def test_sso_accounts_and_a_senders_messages(tmp_path: Path, store_url: str | None) -> None:
    """First sign-in makes an oidc account; the role follows each sign-in (audited); a local or disabled
    account refuses; messages_from matches only the exact sender."""
    extra = {"store": {"url": store_url, "auto_upgrade": True}} if store_url else {}
    store = await Store.open(load(write_config(tmp_path, **extra)))
    try:
        await store.sso_sign_in("sam@cafcass.gov.uk", "sender", client="127.0.0.1", issuer=IDP, subject="s-sam")
        account = await store.get_account("sam@cafcass.gov.uk")
        assert (account.role, account.source, account.password_hash) == ("sender", "oidc", None)
        await store.sso_sign_in("sam@cafcass.gov.uk", "reviewer", client="127.0.0.1", issuer=IDP, subject="s-sam")
        assert (await store.get_account("sam@cafcass.gov.uk")).role == "reviewer"
        rows, _ = await store.audit_page(limit=10)
        events = [(r.event, r.actor, r.old_status, r.new_status) for r in rows]
        assert ("role_change", "sso", "sender", "reviewer") in events
        assert ("account_added", "sso", None, "sender") in events
        assert sum(1 for e in events if e[0] == "sign_in") == 2

        await store.add_account("local@cafcass.gov.uk", "admin", hash_password("a long enough password"),
                                actor="test")
        with pytest.raises(Conflict, match="local account"):
            await store.sso_sign_in("local@cafcass.gov.uk", "admin", issuer=IDP, subject="s-local")
        await store.set_disabled("sam@cafcass.gov.uk", True, actor="admin")
        with pytest.raises(Conflict, match="disabled"):
            await store.sso_sign_in("sam@cafcass.gov.uk", "reviewer", issuer=IDP, subject="s-sam")
        with pytest.raises(ValueError):
            await store.sso_sign_in("x@cafcass.gov.uk", "superuser", issuer=IDP, subject="s-x")

        refs = {}
        for sender, marker in (("Sam@Cafcass.gov.uk", "a"), ("sam@cafcass.gov.uk", "b"),
                               ("xsam@cafcass.gov.uk", "c"), ("sam@cafcass.gov.uk.evil.test", "d")):
            sub = make_submission(mail_from=sender, marker=marker)
            refs[marker] = await store.quarantine(sub, make_scan(sub), quarantine_decision())
        assert await store.messages_from(" SAM@cafcass.gov.uk ") == [refs["b"], refs["a"]]
        assert await store.messages_from("%@cafcass.gov.uk") == []
        assert await store.messages_from("nobody@cafcass.gov.uk") == []
    finally:
        await store.close()
