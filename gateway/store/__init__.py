"""Durable state: quarantined messages and incident records (SQLAlchemy Core; SQLite or PostgreSQL).

The SMTP pipeline uses ``Store.open``, ``quarantine``, ``record_incident``, ``attach_upstream``, ``ping`` and
``close``; the governance CLI and the digest use the rest.

Names are imported lazily: ``gateway.config`` imports ``gateway.store.settings`` and must not pay for
SQLAlchemy and Alembic in every process (CLI start-up, scan workers).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.store.alerts import raise_alert
    from gateway.store.core import AuditRecord, IncidentRecord, QuarantineRecord, Store, database_url
    from gateway.store.errors import (
        Conflict,
        EncryptionKeyError,
        NotFound,
        ReleaseFailed,
        ReleaseUncertain,
        SchemaError,
        StoreError,
    )
    from gateway.store.records import MARKABLE, STATUSES, incident_status

_EXPORTS = {
    "raise_alert": "gateway.store.alerts",
    "AuditRecord": "gateway.store.core",
    "IncidentRecord": "gateway.store.core",
    "QuarantineRecord": "gateway.store.core",
    "Store": "gateway.store.core",
    "database_url": "gateway.store.core",
    "Conflict": "gateway.store.errors",
    "EncryptionKeyError": "gateway.store.errors",
    "NotFound": "gateway.store.errors",
    "ReleaseFailed": "gateway.store.errors",
    "ReleaseUncertain": "gateway.store.errors",
    "SchemaError": "gateway.store.errors",
    "StoreError": "gateway.store.errors",
    "MARKABLE": "gateway.store.records",
    "STATUSES": "gateway.store.records",
    "incident_status": "gateway.store.records",
}

__all__ = [
    "MARKABLE",
    "STATUSES",
    "AuditRecord",
    "Conflict",
    "EncryptionKeyError",
    "IncidentRecord",
    "NotFound",
    "QuarantineRecord",
    "ReleaseFailed",
    "ReleaseUncertain",
    "SchemaError",
    "Store",
    "StoreError",
    "database_url",
    "incident_status",
    "raise_alert",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
