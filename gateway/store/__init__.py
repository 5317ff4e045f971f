"""Durable state: quarantined messages and incident records (SQLAlchemy Core; SQLite or PostgreSQL).

The SMTP pipeline uses ``Store.open``, ``quarantine``, ``record_incident``, ``attach_upstream``, ``ping`` and
``close``; the governance CLI and the digest use the rest.
"""

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
