"""Review-console accounts (issue 14): who may sign in to the console, with which role, and the counters behind
lockout and back-off. Separate from SMTP AUTH users (``dlpgate passwd``).

The store keeps accounts and records what happened; the console decides (password check, back-off policy) and
passes the results in. Every change of an account is an audit row in the same transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gateway.oneline import one_line
from gateway.store.base import StoreBase
from gateway.store.errors import Conflict, NotFound
from gateway.store.schema import console_accounts as acc
from gateway.store.schema import quarantine as qtab

ROLES = ("auditor", "reviewer", "approver", "admin")
"""Least to most: ``auditor`` reads metadata and the audit trail, never content; ``reviewer`` reveals (with a
reason), releases and rejects; ``approver`` also gives the second approval four eyes need; ``admin`` also
manages accounts."""

SENDER = "sender"
"""A role only single sign-on gives (``console.oidc.role_map`` / ``default_role``): the person sees their own
held mail and asks for its release, nothing else (it ranks below ``auditor``)."""

SSO_ROLES = (*ROLES, SENDER)


@dataclass(frozen=True)
class AccountRecord:
    id: int
    name: str
    role: str
    password_hash: str | None
    source: str
    disabled: bool
    created_at: datetime
    failed_count: int
    locked_until: datetime | None
    last_login_at: datetime | None
    sso_issuer: str | None = None
    sso_subject: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AccountRecord:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


class AccountBook(StoreBase):
    """``Store``'s console-account part (see the module docstring)."""

    async def get_account(self, name: str) -> AccountRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(acc).where(acc.c.name == name))).mappings().first()
        return AccountRecord.from_row(row) if row else None

    async def list_accounts(self) -> list[AccountRecord]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(acc).order_by(acc.c.name))).mappings().all()
        return [AccountRecord.from_row(r) for r in rows]

    async def add_account(
        self, name: str, role: str, password_hash: str | None, *, actor: str, source: str = "local",
        client: str | None = None,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        now = self.clock()
        async with self._write() as conn:
            exists = (await conn.execute(sa.select(acc.c.id).where(acc.c.name == name))).first()
            if exists:
                raise Conflict(f"an account named {name!r} exists already")
            await conn.execute(sa.insert(acc).values(
                name=one_line(name, 255), role=role, password_hash=password_hash, source=source, disabled=False,
                created_at=now, failed_count=0, locked_until=None, last_login_at=None,
            ))
            await self._audit(conn, "account_added", actor=actor, new=role, detail={"account": name},
                              now=now, source=client)

    async def set_role(self, name: str, role: str, *, actor: str, client: str | None = None) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        async with self._write() as conn:
            old = (await conn.execute(sa.select(acc.c.role).where(acc.c.name == name))).scalar_one_or_none()
            if old is None:
                raise NotFound(f"no account named {name!r}")
            await conn.execute(sa.update(acc).where(acc.c.name == name).values(role=role))
            await self._audit(conn, "role_change", actor=actor, old=old, new=role, detail={"account": name},
                              source=client)

    async def set_password(self, name: str, password_hash: str, *, actor: str) -> None:
        async with self._write() as conn:
            res = await conn.execute(sa.update(acc).where(acc.c.name == name).values(
                password_hash=password_hash, failed_count=0, locked_until=None))
            if res.rowcount != 1:
                raise NotFound(f"no account named {name!r}")
            await self._audit(conn, "password_set", actor=actor, detail={"account": name})

    async def set_disabled(self, name: str, disabled: bool, *, actor: str, client: str | None = None) -> None:
        async with self._write() as conn:
            res = await conn.execute(sa.update(acc).where(acc.c.name == name).values(disabled=disabled))
            if res.rowcount != 1:
                raise NotFound(f"no account named {name!r}")
            await self._audit(conn, "account_disabled" if disabled else "account_enabled", actor=actor,
                              detail={"account": name}, source=client)

    async def note_sign_in(
        self, name: str, *, ok: bool, locked_until: datetime | None = None, client: str | None = None,
        method: str = "password", why: str | None = None,
    ) -> None:
        """A sign-in attempt and its outcome: success clears the failure count; a failure counts and may lock
        the account until ``locked_until`` (the console's back-off). Both are audit rows."""
        now = self.clock()
        async with self._write() as conn:
            if ok:
                await conn.execute(sa.update(acc).where(acc.c.name == name).values(
                    failed_count=0, locked_until=None, last_login_at=now))
            else:
                await conn.execute(sa.update(acc).where(acc.c.name == name).values(
                    failed_count=acc.c.failed_count + 1, locked_until=locked_until))
            detail: dict[str, Any] = {"method": method}
            if why:
                detail["why"] = why
            if locked_until is not None:
                detail["locked_until"] = locked_until.isoformat()
            await self._audit(conn, "sign_in" if ok else "sign_in_failed", actor=one_line(name, 255),
                              detail=detail, now=now, source=client)

    async def sso_sign_in(
        self, name: str, role: str, *, issuer: str, subject: str, client: str | None = None,
    ) -> AccountRecord:
        """A person the identity provider vouched for signs in; the account they get.

        The account is the provider's identity ``(issuer, subject)``, never the user name: a provider may give a
        name to someone else later (a leaver's UPN reused), and that person must not inherit the old account. So:

        * an account with this identity is theirs: its role follows the provider's groups (a change is audited)
          and its name follows the provider's when that name is free (``account_renamed``);
        * else a new account (source ``oidc``, no password) under ``name`` when nobody has that name;
        * else Conflict, with the reason, and nothing changes: a local account has the name (single sign-on never
          takes over a password account), another identity has it (never merged: an administrator decides), or
          the account is disabled (an administrator's decision outlives the groups).

        An account made by single sign-on before identities were kept (no issuer/subject) is bound to the first
        identity that signs in with its name (``account_bound``)."""
        if role not in SSO_ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(SSO_ROLES)}")
        if not issuer or not subject:
            raise ValueError("single sign-on needs the provider's issuer and the person's subject")
        issuer, subject, name = one_line(issuer, 255), one_line(subject, 255), one_line(name, 255)
        now = self.clock()
        detail: dict[str, Any] = {"method": "oidc", "issuer": one_line(issuer, 200)}
        async with self._write() as conn:
            row = (await conn.execute(sa.select(acc).where(
                acc.c.sso_issuer == issuer, acc.c.sso_subject == subject))).mappings().first()
            named = (await conn.execute(sa.select(acc).where(acc.c.name == name))).mappings().first()
            if row is None and named is not None:
                if named["source"] != "oidc":
                    raise Conflict("a local account has this name")
                if named["sso_subject"] is not None:
                    raise Conflict("another single sign-on identity has this name")
                if named["disabled"]:
                    raise Conflict("the account is disabled")
                await conn.execute(sa.update(acc).where(acc.c.id == named["id"]).values(
                    sso_issuer=issuer, sso_subject=subject))
                await self._audit(conn, "account_bound", actor="sso", detail={"account": name, "source": "oidc"},
                                  now=now, source=client)
                row = named
            if row is None:
                await conn.execute(sa.insert(acc).values(
                    name=name, role=role, password_hash=None, source="oidc", disabled=False, created_at=now,
                    failed_count=0, locked_until=None, last_login_at=now, sso_issuer=issuer, sso_subject=subject,
                ))
                await self._audit(conn, "account_added", actor="sso", new=role,
                                  detail={"account": name, "source": "oidc"}, now=now, source=client)
            else:
                if row["disabled"]:
                    raise Conflict("the account is disabled")
                values: dict[str, Any] = {"role": role, "failed_count": 0, "locked_until": None,
                                          "last_login_at": now}
                if row["name"] != name and named is None:
                    values["name"] = name
                    await self._audit(conn, "account_renamed", actor="sso", old=None, new=None,
                                      detail={"account": row["name"], "to": name, "why": "provider user name"},
                                      now=now, source=client)
                if row["role"] != role:
                    await self._audit(conn, "role_change", actor="sso", old=row["role"], new=role,
                                      detail={"account": values.get("name", row["name"]), "why": "provider groups"},
                                      now=now, source=client)
                await conn.execute(sa.update(acc).where(acc.c.id == row["id"]).values(**values))
                name = str(values.get("name", row["name"]))
            await self._audit(conn, "sign_in", actor=name, detail=detail, now=now, source=client)
            fresh = (await conn.execute(sa.select(acc).where(acc.c.name == name))).mappings().one()
        return AccountRecord.from_row(fresh)

    async def messages_from(self, address: str, limit: int = 50) -> list[str]:
        """References of the held (or once held) messages whose envelope sender is exactly ``address`` (case
        folded), newest first: what a sender signed in by single sign-on may see, and nothing else."""
        q = (sa.select(qtab.c.reference).where(sa.func.lower(qtab.c.mail_from) == address.strip().lower())
             .order_by(qtab.c.id.desc()).limit(limit))
        async with self.engine.connect() as conn:
            return [str(r[0]) for r in (await conn.execute(q)).all()]
