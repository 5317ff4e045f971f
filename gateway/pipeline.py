"""End of DATA: scan, decide, act, and only then choose the reply.

The invariant this module exists for: a 2xx reply is produced only after the upstream answered 2xx or the
quarantine write committed. Every other path, including any exception, ends in a 4xx (the client keeps the
message) or a 5xx that the policy or the upstream chose.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from gateway.actions.dkim import sign_if_configured
from gateway.actions.encrypt import add_subject_tag, smime_encrypt
from gateway.actions.fields import prepend_fields
from gateway.actions.tag import outgoing_headers
from gateway.facts import ScanResult
from gateway.oneline import one_line
from gateway.policy.engine import release_decision
from gateway.policy.model import PASS_DECISION, Action, Decision
from gateway.smtp import replies
from gateway.submission import MessageSource, Submission
from gateway.tasks import spawn
from gateway.upstream import Reply, Transaction, Upstream, UpstreamError, open_transaction
from gateway.workers import PoolBusy, ScanTimeout

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.store import Store

log = structlog.get_logger("dlpgate.pipeline")


TEMPFAIL = "tempfail"
"""The ``decision`` of a message that never got one (worker killed, scan deadline, pool busy, internal error): it
was answered 4xx and the client keeps it. Logged and counted as such, never as ``pass``."""


@dataclass
class Outcome:
    """What happened to one message, for the transaction log line and metrics. ``decision`` starts as
    ``TEMPFAIL`` and is set only once the policy decided, so every path that fails before that is counted as a
    temporary failure by construction."""

    reply: str
    decision: str = TEMPFAIL
    rules: list[str] = field(default_factory=list)
    monitor: list[str] = field(default_factory=list)
    upstream: str = ""
    incident: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    error: str = ""


@dataclass
class Envelope:
    """The client's transaction as the relay passed it upstream."""

    mail_from: str
    mail_options: list[str]
    rcpts: list[tuple[str, list[str]]]


def _upstream_reply_to_client(reply: Reply, upstream_name: str) -> str:
    if reply.ok:
        return replies.S250_RELAYED.format(upstream=one_line(reply.message, 200) or upstream_name)
    if reply.temporary:
        return replies.S451_UPSTREAM_TEMPFAIL
    return replies.upstream_passthrough(reply.code, reply.message)


class Pipeline:
    def __init__(self, store: Store | None, upstream: Upstream) -> None:
        self.store = store
        self.upstream = upstream

    async def process(
        self,
        sub: Submission,
        txn: Transaction | None,
        env: Envelope,
        rt: Runtime,
        received: bytes,
    ) -> Outcome:
        """Run the message through scan → decide → act. ``txn`` is the upstream transaction opened at MAIL
        (None for a Maildir upstream, which needs no proxy transaction)."""
        t0 = time.perf_counter()
        out = Outcome(reply=replies.S451_INTERNAL)
        try:
            facts, decision = await self._decide(sub, rt, out)
            out.timings["scan"] = time.perf_counter() - t0
            out.decision = decision.action.label
            out.rules = decision.rule_ids
            out.monitor = [h.rule_id for h in decision.monitor]
            t1 = time.perf_counter()
            await self._act(sub, txn, env, rt, received, facts, decision, out)
            out.timings["act"] = time.perf_counter() - t1
        except (PoolBusy, ScanTimeout) as exc:
            busy = isinstance(exc, PoolBusy)
            log.warning("scan_busy" if busy else "scan_deadline", txn=sub.txn_id)
            out.reply = replies.S451_BUSY if busy else replies.S451_SCAN_TIMEOUT
            out.error = exc.__class__.__name__
            if txn is not None:
                await txn.abort()
        except Exception as exc:
            log.exception("pipeline_error", txn=sub.txn_id, error=exc.__class__.__name__)
            out.reply = replies.S451_INTERNAL
            out.error = exc.__class__.__name__
            if txn is not None:
                await txn.abort()
        return out

    async def _decide(self, sub: Submission, rt: Runtime, out: Outcome) -> tuple[ScanResult | None, Decision]:
        if rt.pool is None:
            return None, PASS_DECISION
        # A spooled message goes to the worker as a file reference, not pickled bytes (issue 13: memory).
        message = sub.source.ref() if sub.source is not None else sub.raw
        facts = await rt.pool.scan(message, sub.mail_from, sub.rcpt_tos)
        out.timings.update({f"scan.{k}": v for k, v in facts.timings.items()})
        facts = await rt.history.annotate(self.store, facts)  # issue 16: fails open to "unknown"
        # issue 15: approved exceptions are an input to the pure decide; fail closed to none
        decision = rt.evaluator.decide(facts, await rt.exemptions.current(self.store))
        if decision.exemptions_used:
            spawn(rt.exemptions.record_use(self.store, decision.exemptions_used, txn_id=sub.txn_id,
                                           rules=[h.rule_id for h in decision.exempted]))
        return facts, decision

    async def _act(
        self,
        sub: Submission,
        txn: Transaction | None,
        env: Envelope,
        rt: Runtime,
        received: bytes,
        facts: ScanResult | None,
        decision: Decision,
        out: Outcome,
    ) -> None:
        action = decision.action
        if action in (Action.QUARANTINE, Action.REJECT):
            if txn is not None:
                await txn.abort()
            assert facts is not None
            # A spooled message is streamed from its file into the quarantine (Store.quarantine), not loaded.
            await self._hold_or_refuse(sub, rt, facts, decision, out)
            return

        # A spooled message is relayed as its header block plus the rest streamed from the spool; only S/MIME
        # (or a header block too large to hold) needs every byte in memory.
        data, rest = sub.raw, sub.source
        if rest is not None:
            data = rest.head
            streamable = rest.head_complete and (decision.encrypt_mode or "subject_tag") != "smime"
            streamable = streamable and not rt.cfg.gateway.dkim.enabled  # a signature hashes every body byte
            if action == Action.ENCRYPT and not streamable:
                data, rest = rest.read(), None
        headers: list[tuple[str, str]] = []
        target, upstream_txn = self.upstream, txn
        if facts is not None:  # never the full X-DLP-* fields to an outsider (gateway/actions/tag.py)
            headers = outgoing_headers(decision, facts, rt.cfg.gateway.headers)
        if action == Action.ENCRYPT:
            assert facts is not None
            data, target, upstream_txn = await self._encrypt(txn, env, rt, decision, data)
            if target is self.upstream:  # changed here: re-sign (actions/dkim.py); a smarthost signs its own
                data = sign_if_configured(rt.cfg, data)
        message = received + prepend_fields(data, headers)
        try:
            reply = await self._send(target, upstream_txn, env, message, rest)
        except UpstreamError as exc:
            log.warning("upstream_unavailable", txn=sub.txn_id, detail=exc.detail)
            out.upstream = "unavailable"
            out.reply = replies.S451_UPSTREAM_UNAVAILABLE
            return
        out.upstream = str(reply)
        out.reply = _upstream_reply_to_client(reply, target.description)
        if reply.ok and facts is not None:
            spawn(rt.history.record(self.store, facts))  # first-time recipients learn from deliveries only
        if reply.ok and facts is not None and (action > Action.PASS or decision.monitor) and self.store:
            out.incident = await self._record_relayed(sub, facts, decision, str(reply))

    async def _record_relayed(self, sub: Submission, facts: ScanResult, decision: Decision, reply: str) -> str:
        """The incident of a message the next hop already accepted. A failed write must not become a 451 (the
        client would send the message again) nor lose the record (a potential breach nobody hears of): it is
        spooled to a local file, written to the database when it is back (``Store.replay_spool``)."""
        assert self.store is not None
        try:
            return await self.store.record_incident(sub, facts, decision, delivered=True, upstream_reply=reply)
        except Exception as exc:
            log.error("incident_record_failed", txn=sub.txn_id, error=exc.__class__.__name__)
        try:
            await self.store.spool_incident(sub, facts, decision, delivered=True, upstream_reply=reply)
        except Exception as exc:
            log.critical("incident_lost", txn=sub.txn_id, error=exc.__class__.__name__)
            return ""
        return "spooled"

    async def _send(
        self, target: Upstream, txn: Transaction | None, env: Envelope, message: bytes,
        rest: MessageSource | None = None,
    ) -> Reply:
        """DATA to the next hop (``message``, then ``rest`` streamed from its spool when there is one), first
        replaying the envelope when no transaction is open for it."""
        if txn is None:
            opened = await self._replay(target, env)
            if isinstance(opened, Reply):
                return opened
            txn = opened
        return await (txn.data(message) if rest is None else txn.data_from(message, rest))

    async def _replay(self, upstream: Upstream, env: Envelope) -> Transaction | Reply:
        """Open a fresh transaction and replay the envelope (Maildir upstream, encryption smarthost)."""
        return await open_transaction(upstream, env.mail_from, env.rcpts, mail_options=env.mail_options)

    async def _encrypt(
        self, txn: Transaction | None, env: Envelope, rt: Runtime, decision: Decision, data: bytes
    ) -> tuple[bytes, Upstream, Transaction | None]:
        mode = decision.encrypt_mode or "subject_tag"
        if mode == "subject_tag":
            enc = rt.cfg.policy.encrypt
            return add_subject_tag(data, enc.subject_tag, enc.triggers), self.upstream, txn
        if mode == "smime":
            certs = rt.evaluator.certificates_for([r for r, _ in env.rcpts])
            return smime_encrypt(data, certs), self.upstream, txn
        if mode == "smarthost":
            if rt.smarthost is None:
                raise RuntimeError("encrypt mode smarthost needs upstream.encryption_smarthost")
            if txn is not None:
                await txn.abort()  # reset the normal upstream; the envelope is replayed to the smarthost
            return data, rt.smarthost, None
        raise RuntimeError(f"unknown encrypt mode {mode}")

    async def _hold_or_refuse(
        self, sub: Submission, rt: Runtime, facts: ScanResult, decision: Decision, out: Outcome
    ) -> None:
        if self.store is None:
            raise RuntimeError("no store configured: cannot quarantine or record")
        if decision.action == Action.QUARANTINE:
            ref = await self.store.quarantine(
                sub, facts, decision, route=release_route(rt), release_plan=release_plan(rt, facts, decision)
            )
            out.incident = ref
            out.reply = replies.S250_QUARANTINED.format(ref=ref)
            return
        ref = await self.store.record_incident(sub, facts, decision, delivered=False)
        out.incident = ref
        out.reply = replies.policy_reply(decision.reasons(ref))


def release_route(rt: Runtime) -> dict[str, str | None]:
    """Where this gateway delivers (after ``serve --upstream``), recorded with a held message so that its release
    goes there too, not wherever the releasing command's own configuration points."""
    up = rt.cfg.gateway.upstream
    smarthost = rt.cfg.upstream_url(up.encryption_smarthost) if up.encryption_smarthost else None
    return {"upstream": rt.cfg.upstream_url(up.url), "encryption_smarthost": smarthost}


def release_plan(rt: Runtime, facts: ScanResult, decision: Decision) -> dict[str, Any]:
    """What a release of this held message must still do: the relay's own treatment of the decision without the
    holding rules (``policy.engine.release_decision``), as data: the encrypt mode with the subject-tag settings of
    this generation, and the header fields the relay would have added (``actions.tag.outgoing_headers``)."""
    rest = release_decision(decision, rt.cfg.policy)
    enc = rt.cfg.policy.encrypt
    return {
        "action": rest.action.label,
        "encrypt_mode": rest.encrypt_mode,
        "subject_tag": enc.subject_tag,
        "triggers": list(enc.triggers),
        "rules": rest.rule_ids,
        "headers": [[name, value] for name, value in outgoing_headers(rest, facts, rt.cfg.gateway.headers)],
    }
