"""One generation of reloadable configuration: policy, detectors, lists, and the worker pool built on them.

A transaction takes the current ``Runtime`` at MAIL FROM and keeps it to the end, so a reload (SIGHUP) never
changes the rules under a message in flight. The old generation's workers are closed once its last
transaction has finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from gateway.config import Config
from gateway.facts import ScanResult
from gateway.policy.model import Decision
from gateway.submission import Submission
from gateway.tasks import spawn
from gateway.upstream import Upstream, make_upstream
from gateway.workers import ScanPool

if TYPE_CHECKING:
    from gateway.actions.encrypt import CertificateDirectory

log = structlog.get_logger("dlpgate.runtime")


def load_certificates(cfg: Config) -> CertificateDirectory | None:
    if not cfg.gateway.scan.enabled:
        return None
    from gateway.actions.encrypt import CertificateDirectory

    enc = cfg.policy.encrypt
    return CertificateDirectory(cfg.resolve(enc.smime.cert_dir)) if enc.mode == "smime" else None


def policy_decision(cfg: Config, facts: ScanResult, certs: CertificateDirectory | None) -> Decision:
    """The policy's decision, with the S/MIME fallback applied when a recipient has no certificate."""
    from gateway.policy.engine import decide, resolve_smime

    decision = decide(facts, cfg.policy)
    if certs is not None:
        decision = resolve_smime(decision, facts, lambda a: certs.get(a) is not None, cfg.policy)
    return decision


class Runtime:
    def __init__(self, cfg: Config, *, generation: int = 1) -> None:
        self.cfg = cfg
        self.generation = generation
        self.scan_enabled = cfg.gateway.scan.enabled
        self.pool: ScanPool | None = ScanPool(cfg) if self.scan_enabled else None
        self.in_flight = 0
        self.retired = False
        self._closed = asyncio.Event()
        up = cfg.gateway.upstream
        self.smarthost: Upstream | None = (
            make_upstream(
                up.encryption_smarthost,
                local_hostname=up.helo_name or cfg.gateway.server.hostname,
                timeout=up.timeout,
                verify=up.tls_verify,
            )
            if up.encryption_smarthost
            else None
        )
        self.certs = load_certificates(cfg)

    async def start(self) -> None:
        if self.pool is not None:
            await self.pool.start()

    @property
    def ready(self) -> bool:
        return self.pool is None or self.pool.ready

    # ---- per-transaction use

    def acquire(self) -> Runtime:
        self.in_flight += 1
        return self

    def release(self) -> None:
        self.in_flight -= 1
        if self.retired and self.in_flight == 0:
            spawn(self.close())

    def retire(self) -> None:
        """A newer generation took over: close once the last transaction on this one ends."""
        self.retired = True
        if self.in_flight == 0:
            spawn(self.close())

    async def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self.pool is not None:
            await self.pool.close()
        if self.smarthost is not None:
            await self.smarthost.close()

    # ---- the pipeline's calls

    async def scan(self, sub: Submission) -> ScanResult:
        assert self.pool is not None
        return await self.pool.scan(sub.raw, sub.mail_from, sub.rcpt_tos)

    def decide(self, facts: ScanResult) -> Decision:
        return policy_decision(self.cfg, facts, self.certs)

    def dlp_headers(self, decision: Decision, facts: ScanResult) -> list[tuple[str, str]]:
        from gateway.actions.tag import dlp_headers

        return dlp_headers(decision, facts)

    def subject_tag(self, data: bytes) -> bytes:
        from gateway.actions.encrypt import add_subject_tag

        enc = self.cfg.policy.encrypt
        return add_subject_tag(data, enc.subject_tag, enc.triggers)

    def smime(self, data: bytes, recipients: Sequence[str]) -> bytes:
        from gateway.actions.encrypt import smime_encrypt

        assert self.certs is not None
        certs = [self.certs.get(r) for r in recipients]
        if any(c is None for c in certs):
            raise RuntimeError("S/MIME certificate missing after resolve_smime")
        return smime_encrypt(data, [c for c in certs if c is not None])
