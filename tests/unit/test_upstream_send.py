"""The one "open MAIL/RCPT and send" helper every sender of mail uses (``gateway.upstream``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from gateway.upstream import DeliveryUncertain, Reply, Transaction, UpstreamError, deliver, open_transaction


@dataclass
class FakeUpstream:
    """In memory: refuses the recipients in ``refuse``, and fails at the step named by ``fail_at``."""

    refuse: set[str] = field(default_factory=set)
    fail_at: str | None = None
    calls: list[str] = field(default_factory=list)

    description = "fake"

    async def begin(self) -> Transaction:
        self.calls.append("begin")
        return self

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_at == name:
            raise UpstreamError(f"lost at {name}")

    async def mail(self, sender: str, options: Sequence[str]) -> Reply:
        self._step(f"mail {sender} {' '.join(options)}".strip())
        return Reply(250, "ok")

    async def rcpt(self, recipient: str, options: Sequence[str]) -> Reply:
        self._step(f"rcpt {recipient}")
        return Reply(550, "no such user") if recipient in self.refuse else Reply(250, "ok")

    async def data(self, message: bytes) -> Reply:
        self._step("data")
        return Reply(250, "queued")

    async def abort(self) -> None:
        self.calls.append("abort")

    async def probe(self) -> bool:
        return True

    async def close(self) -> None:
        return None


async def test_open_passes_options_and_returns_the_open_transaction() -> None:
    """MAIL and RCPT parameters reach the next hop, and DATA is left to the caller (the relay's replay)."""
    up = FakeUpstream()
    txn = await open_transaction(up, "a@x.test", [("b@y.test", ["NOTIFY=NEVER"])], mail_options=["SMTPUTF8"])
    assert txn is up
    assert up.calls == ["begin", "mail a@x.test SMTPUTF8", "rcpt b@y.test"]


async def test_a_refused_recipient_refuses_the_whole_message() -> None:
    """The first refusal is returned and the transaction aborted: nothing goes to the other recipients."""
    up = FakeUpstream(refuse={"b@y.test"})
    reply = await deliver(up, "a@x.test", ["b@y.test", "c@y.test"], b"msg")
    assert reply == Reply(550, "no such user")
    assert up.calls == ["begin", "mail a@x.test", "rcpt b@y.test", "abort"]


async def test_failure_before_data_is_certain_and_during_data_uncertain() -> None:
    """A release must know whether the next hop may have the message: before DATA it cannot, during DATA it may."""
    before = FakeUpstream(fail_at="rcpt c@y.test")
    with pytest.raises(UpstreamError) as exc:
        await deliver(before, "a@x.test", ["b@y.test", "c@y.test"], b"msg")
    assert not isinstance(exc.value, DeliveryUncertain) and before.calls[-1] == "abort"
    during = FakeUpstream(fail_at="data")
    with pytest.raises(DeliveryUncertain, match="lost at data"):
        await deliver(during, "a@x.test", ["b@y.test"], b"msg")
    assert during.calls[-1] == "abort"
    assert await deliver(FakeUpstream(), "a@x.test", ["b@y.test"], b"msg") == Reply(250, "queued")
