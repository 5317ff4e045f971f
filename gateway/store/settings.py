"""``store:``, ``digest:``, ``alerts:`` and ``notifications:`` sections of gateway.yaml."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from gateway.config_errors import FrozenModel

# A bare addr-spec: these values go into headers and the SMTP envelope, so CR/LF, spaces and angle brackets are
# refused here rather than escaped later.
_ADDRESS = re.compile(r"^[^\s<>@,;\"]+@[^\s<>@,;\"]+$")


def _address(value: str) -> str:
    value = value.strip()
    if not _ADDRESS.match(value):
        raise ValueError("expected a plain email address like governance@example.org")
    return value


class StoreSettings(FrozenModel):

    url: str | None = Field(
        None,
        description="SQLAlchemy async URL (postgresql+asyncpg://...). Default: SQLite file dlpgate.db in state_dir.",
    )
    retention_days: int = Field(90, ge=1, description="Quarantined messages older than this are purged.")
    encryption_key_env: str | None = Field(
        None,
        description="Name of an environment variable holding a Fernet key (`dlpgate db keygen`) to encrypt stored "
        "messages at rest. Several comma-separated keys rotate: the first encrypts, all decrypt.",
    )
    auto_upgrade: bool | None = Field(
        None,
        description="Apply pending schema migrations at start-up. Default (null): yes for the embedded SQLite "
        "file, no for PostgreSQL (run `dlpgate db upgrade` once, then start every node).",
    )
    busy_timeout_seconds: float = Field(
        10.0, gt=0, description="SQLite only: how long a write waits for another writer before failing (451)."
    )
    pool_size: int = Field(5, ge=1, description="PostgreSQL connections kept open per node.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not (v.startswith("postgresql+asyncpg://") or v.startswith("sqlite+aiosqlite:///")):
            raise ValueError("expected postgresql+asyncpg://USER@HOST/DB or sqlite+aiosqlite:///PATH")
        return v

    @field_validator("encryption_key_env")
    @classmethod
    def _check_env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError("expected the NAME of an environment variable, not the key itself")
        return v


class DigestSettings(FrozenModel):

    enabled: bool = Field(True, description="Send the daily digest from `dlpgate serve`.")
    to: str = Field("governance@cafcass.gov.uk", description="Governance team address.")
    sender: str = Field("dlpgate@cafcass.gov.uk", description="From address of digests and alerts.")
    send_at: str = Field("07:00", pattern=r"^\d{2}:\d{2}$", description="Local time (HH:MM) to send the digest.")
    timezone: str = Field("Europe/London", description="Timezone that defines the digest's day.")
    templates: str = Field(
        "templates",
        description="Folder of Jinja2 templates (digest.txt.j2, digest.html.j2, alert.txt.j2, sender_notice.txt.j2), "
        "relative to the config folder; a template missing there falls back to the packaged one.",
    )
    repeat_sender_threshold: int = Field(
        2, ge=2, description="Incidents in the last 8 days that make a sender appear under repeat senders."
    )

    @field_validator("to", "sender")
    @classmethod
    def _check_addresses(cls, v: str) -> str:
        return _address(v)

    @field_validator("send_at")
    @classmethod
    def _check_time(cls, v: str) -> str:
        hh, mm = (int(x) for x in v.split(":"))
        if hh > 23 or mm > 59:
            raise ValueError("expected HH:MM between 00:00 and 23:59")
        return v

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA timezone (e.g. Europe/London)") from None
        return v


class AlertSettings(FrozenModel):

    email: bool = Field(True, description="Email the governance address at once for each potential breach.")
    webhook_url: str | None = Field(None, description="Optional URL that receives a JSON POST per alert.")
    webhook_timeout: float = Field(5.0, gt=0, le=60, description="Seconds to wait for the webhook.")
    webhook_include_addresses: bool = Field(
        False,
        description="Put envelope addresses and attachment names in the webhook JSON. Off by default because a "
        "chat channel usually has a wider audience than the governance mailbox.",
    )

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook(cls, v: str | None) -> str | None:
        if v is not None and not (v.startswith("https://") or v.startswith("http://")):
            raise ValueError("expected an http:// or https:// URL")
        return v


class NotificationSettings(FrozenModel):

    notify_sender_on_quarantine: bool = Field(
        True, description="Tell the sender (types, clause, reference; never values) that a message is held."
    )
    sender: str | None = Field(
        None, description="From address of sender notices (default: digest.sender). Sent with a null envelope."
    )
    contact: str | None = Field(
        None, description="Who the sender should ask about a held message (default: digest.to)."
    )

    @field_validator("sender", "contact")
    @classmethod
    def _check_addr(cls, v: str | None) -> str | None:
        return None if v is None else _address(v)
