"""Durable state: quarantined messages and incident records (SQLAlchemy Core; SQLite or PostgreSQL).

The SMTP pipeline uses ``Store.open``, ``quarantine``, ``record_incident``, ``ping`` and ``close``; the
governance CLI, the digest and ``gateway.notify`` use the rest. Nothing here sends mail.

Names are imported lazily: ``gateway.config`` imports ``gateway.store.settings`` and must not pay for
SQLAlchemy and Alembic in every process (CLI start-up, scan workers).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.store.accounts import ROLES, AccountRecord
    from gateway.store.approvals import ApprovalRecord
    from gateway.store.auditchain import ChainReport, acting_from
    from gateway.store.base import AfterCommit
    from gateway.store.core import Store
    from gateway.store.engine import database_url
    from gateway.store.errors import (
        Conflict,
        EncryptionKeyError,
        NotFound,
        ReleaseFailed,
        ReleaseRefused,
        ReleaseUncertain,
        SchemaError,
        StoreChanged,
        StoreError,
        StoreMissing,
    )
    from gateway.store.quarantine import ReleaseClaim
    from gateway.store.records import (
        MARKABLE,
        STATUSES,
        AuditRecord,
        IncidentRecord,
        QuarantineRecord,
        incident_status,
    )
    from gateway.store.review import AuditRow, QueueFilter, QueuePage

_EXPORTS = {
    "ROLES": "gateway.store.accounts",
    "AccountRecord": "gateway.store.accounts",
    "ApprovalRecord": "gateway.store.approvals",
    "ChainReport": "gateway.store.auditchain",
    "acting_from": "gateway.store.auditchain",
    "AuditRow": "gateway.store.review",
    "QueueFilter": "gateway.store.review",
    "QueuePage": "gateway.store.review",
    "AfterCommit": "gateway.store.base",
    "Store": "gateway.store.core",
    "database_url": "gateway.store.engine",
    "Conflict": "gateway.store.errors",
    "EncryptionKeyError": "gateway.store.errors",
    "NotFound": "gateway.store.errors",
    "ReleaseFailed": "gateway.store.errors",
    "ReleaseRefused": "gateway.store.errors",
    "ReleaseUncertain": "gateway.store.errors",
    "SchemaError": "gateway.store.errors",
    "StoreError": "gateway.store.errors",
    "StoreChanged": "gateway.store.errors",
    "StoreMissing": "gateway.store.errors",
    "ReleaseClaim": "gateway.store.quarantine",
    "MARKABLE": "gateway.store.records",
    "STATUSES": "gateway.store.records",
    "AuditRecord": "gateway.store.records",
    "IncidentRecord": "gateway.store.records",
    "QuarantineRecord": "gateway.store.records",
    "incident_status": "gateway.store.records",
}

__all__ = [
    "MARKABLE",
    "ROLES",
    "STATUSES",
    "AccountRecord",
    "AfterCommit",
    "ApprovalRecord",
    "AuditRecord",
    "AuditRow",
    "ChainReport",
    "Conflict",
    "EncryptionKeyError",
    "IncidentRecord",
    "NotFound",
    "QuarantineRecord",
    "QueueFilter",
    "QueuePage",
    "ReleaseClaim",
    "ReleaseFailed",
    "ReleaseRefused",
    "ReleaseUncertain",
    "SchemaError",
    "Store",
    "StoreChanged",
    "StoreError",
    "StoreMissing",
    "acting_from",
    "database_url",
    "incident_status",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
