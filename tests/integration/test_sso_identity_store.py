"""Single sign-on accounts keyed by the provider's identity (issue 14), on SQLite and PostgreSQL: the account is
``(issuer, subject)``, the user name only names it. A name the provider hands to another person opens nothing
(refused, never merged), a renamed person keeps their account, the same subject at another issuer is another
person, and an account made before revision 0007 (no identity kept) is bound by its first sign-in after the
upgrade (the upgrade itself is run from 0006 on a database holding such an account)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.store import Conflict, Store, migrate
from gateway.store.engine import make_engine
from gateway.store.schema import console_accounts
from tests.store_fixtures import load_config, store_url, write_config

__all__ = ["store_url"]

IDP = "https://login.example.test/tenant/v2.0"
OTHER_IDP = "https://other.example.test/v2.0"


async def _open(tmp_path: Path, url: str | None) -> Store:
    extra: dict[str, Any] = {"store": {"url": url, "auto_upgrade": True}} if url else {}
    return await Store.open(load_config(write_config(tmp_path, **extra)))


async def _events(store: Store) -> list[tuple[str, str]]:
    rows, _ = await store.audit_page(limit=50)
    return [(r.event, r.actor) for r in rows]


async def test_accounts_follow_the_subject_not_the_name(tmp_path: Path, store_url: str | None) -> None:
    """A reassigned user name is refused (Conflict, nothing changed); a renamed person keeps their account under
    the new name (audited); the same subject at another issuer is a different person."""
    store = await _open(tmp_path, store_url)
    try:
        first = await store.sso_sign_in("jo@cafcass.gov.uk", "reviewer", issuer=IDP, subject="sub-jo-1")
        assert (first.name, first.sso_issuer, first.sso_subject) == ("jo@cafcass.gov.uk", IDP, "sub-jo-1")

        # The provider gives jo's old name to someone else: they must not get jo's reviewer account.
        with pytest.raises(Conflict, match="another single sign-on identity"):
            await store.sso_sign_in("jo@cafcass.gov.uk", "admin", issuer=IDP, subject="sub-jo-2")
        kept = await store.get_account("jo@cafcass.gov.uk")
        assert kept is not None and (kept.role, kept.sso_subject) == ("reviewer", "sub-jo-1")
        # Same subject value, another issuer: another person, refused as well.
        with pytest.raises(Conflict, match="another single sign-on identity"):
            await store.sso_sign_in("jo@cafcass.gov.uk", "admin", issuer=OTHER_IDP, subject="sub-jo-1")

        # Jo's user name changes at the provider: same account, renamed, role still following the groups.
        renamed = await store.sso_sign_in("jo.smith@cafcass.gov.uk", "approver", issuer=IDP, subject="sub-jo-1")
        assert (renamed.id, renamed.name, renamed.role) == (first.id, "jo.smith@cafcass.gov.uk", "approver")
        assert await store.get_account("jo@cafcass.gov.uk") is None
        # Now the old name is free, the second person gets an account of their own.
        newcomer = await store.sso_sign_in("jo@cafcass.gov.uk", "sender", issuer=IDP, subject="sub-jo-2")
        assert newcomer.id != first.id and newcomer.role == "sender"

        # A renamed person whose new name is taken keeps their old one (never merged into the other account).
        again = await store.sso_sign_in("jo@cafcass.gov.uk", "approver", issuer=IDP, subject="sub-jo-1")
        assert (again.id, again.name) == (first.id, "jo.smith@cafcass.gov.uk")

        events = await _events(store)
        assert ("account_renamed", "sso") in events
        assert ("sign_in", "jo.smith@cafcass.gov.uk") in events and ("sign_in", "jo@cafcass.gov.uk") in events
        with pytest.raises(ValueError):
            await store.sso_sign_in("x@cafcass.gov.uk", "reviewer", issuer=IDP, subject="")
    finally:
        await store.close()


async def test_upgrade_to_0007_binds_a_legacy_account_once(tmp_path: Path, store_url: str | None) -> None:
    """An SSO account made at schema 0006 survives the 0007 upgrade, is bound to the first identity that signs in
    with its name (audited), and refuses every other identity afterwards."""
    cfg = load_config(write_config(tmp_path, store_url=store_url))
    engine = make_engine(cfg)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: migrate.upgrade(c, "0006"))
            await conn.execute(sa.text(
                "INSERT INTO console_accounts (name, role, source, disabled, created_at, failed_count) "
                "VALUES ('old@cafcass.gov.uk', 'reviewer', 'oidc', false, CURRENT_TIMESTAMP, 0)"))
            await conn.run_sync(migrate.upgrade)
            assert (await conn.run_sync(lambda c: migrate.schema_status(c))).current == migrate.head_revision()
    finally:
        await engine.dispose()
    store = await Store.open(cfg)
    try:
        legacy = await store.get_account("old@cafcass.gov.uk")
        assert legacy is not None and legacy.sso_subject is None
        bound = await store.sso_sign_in("old@cafcass.gov.uk", "reviewer", issuer=IDP, subject="sub-old")
        assert (bound.id, bound.sso_issuer, bound.sso_subject) == (legacy.id, IDP, "sub-old")
        assert ("account_bound", "sso") in await _events(store)
        with pytest.raises(Conflict, match="another single sign-on identity"):
            await store.sso_sign_in("old@cafcass.gov.uk", "reviewer", issuer=IDP, subject="sub-impostor")
        async with store.engine.connect() as conn:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(console_accounts))).scalar_one()
        assert count == 1
    finally:
        await store.close()
