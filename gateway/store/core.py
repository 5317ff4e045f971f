"""``Store``: incidents, quarantined messages, the audit trail and the digest's once-a-day bookkeeping, in one
object built from its parts (each module under ``gateway.store`` does one job; ``StoreBase`` holds what they
share). Callers keep one handle: ``await Store.open(cfg)``.

The SMTP path uses ``quarantine``, ``record_incident`` (``spool_incident`` when that fails) and ``ping``; the
governance CLI, the review console (accounts, approvals, review reads), the digest and ``gateway.notify`` use
the rest. The store stores and nothing else: mail after a commit (alerts, sender
notices) is ``gateway.notify``'s, told through ``attach_listener``.
"""

from __future__ import annotations

from gateway.store.accounts import AccountBook
from gateway.store.approvals import ApprovalBook
from gateway.store.cases import CaseBook
from gateway.store.digests import DigestBook
from gateway.store.exemptions import ExemptionBook
from gateway.store.incidents import IncidentBook
from gateway.store.quarantine import QuarantineBook
from gateway.store.releasereq import ReleaseRequestBook
from gateway.store.retention import Retention
from gateway.store.review import ReviewBook
from gateway.store.spool import IncidentSpool


class Store(
    IncidentSpool, IncidentBook, QuarantineBook, DigestBook, Retention, AccountBook, ApprovalBook, ReviewBook,
    CaseBook, ExemptionBook, ReleaseRequestBook,
):
    """See the module docstring and each part's."""
