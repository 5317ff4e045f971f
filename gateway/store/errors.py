"""Store errors. Messages name references and states, never addresses or content, so they may be logged."""

from __future__ import annotations


class StoreError(Exception):
    """Base class; the CLI prints the message and exits 1."""


class SchemaError(StoreError):
    """The database schema is not the one this version needs."""


class StoreMissing(StoreError):
    """The configured SQLite database does not exist (or holds no schema) and the caller only reads or changes
    what is stored: creating an empty one would show an empty quarantine to someone looking for a held message."""


class StoreChanged(StoreError):
    """The SQLite file open in this process is no longer the one at the configured path (deleted, or replaced by
    another file): a write would go where nobody will ever read it, so every write fails until a restart."""


class EncryptionKeyError(StoreError):
    """The at-rest key is missing or wrong."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """The record is not in a state that allows the operation (already released, rejected, purged...)."""


class ReleaseFailed(StoreError):
    """The upstream refused or could not be reached before DATA: the message is held again, safe to retry."""


class ReleaseRefused(StoreError):
    """The message cannot be released as the policy requires (the route is unknown, a recipient has no S/MIME
    certificate, the required actions were not recorded); nothing was claimed or sent, it is still held."""


class ReleaseUncertain(StoreError):
    """The connection failed during DATA: the upstream may have the message. It stays ``releasing``; check the
    recipients' mailboxes, then use ``--force`` to release again if it did not arrive."""
