"""Validation of the store, digest, alert and notification settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.store.settings import AlertSettings, DigestSettings, NotificationSettings, StoreSettings


def test_defaults_are_valid() -> None:
    """Every section works with no keys at all (a fresh machine just runs)."""
    assert StoreSettings().retention_days == 90
    assert DigestSettings().timezone == "Europe/London"
    assert AlertSettings().webhook_url is None
    assert NotificationSettings().notify_sender_on_quarantine is True


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (DigestSettings, {"timezone": "Europe/Londn"}),
        (DigestSettings, {"send_at": "25:00"}),
        (DigestSettings, {"to": "governance@cafcass.gov.uk\r\nBcc: x@y"}),
        (DigestSettings, {"sender": "not an address"}),
        (AlertSettings, {"webhook_url": "file:///etc/passwd"}),
        (StoreSettings, {"url": "mysql://x/y"}),
        (StoreSettings, {"encryption_key_env": "gAAAAA-a-real-key=="}),
        (StoreSettings, {"retention_days": 0}),
        (StoreSettings, {"retension_days": 30}),
        (NotificationSettings, {"contact": "a@b\nc"}),
    ],
)
def test_bad_values_are_refused(model: type, data: dict[str, object]) -> None:
    """Typos, bad zones, header-injection attempts and key-instead-of-name mistakes fail at start-up."""
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_every_field_is_described() -> None:
    """Habit 6: a description on every field, so the docs and errors can name them."""
    for model in (StoreSettings, DigestSettings, AlertSettings, NotificationSettings):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"
