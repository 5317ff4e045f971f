"""Exchange Online connector certificates are admitted by name only as configured (issue 17)."""

from __future__ import annotations

import pytest

from gateway.smtp.tls import certificate_names, name_matches

PEERCERT = {
    "subject": ((("countryName", "US"),), (("commonName", "mail.protection.outlook.com"),)),
    "subjectAltName": (("DNS", "mail.protection.outlook.com"), ("DNS", "*.mail.protection.outlook.com"),
                       ("IP Address", "192.0.2.1")),
}


def test_certificate_names_are_cn_and_dns_sans() -> None:
    """Subject CN and DNS SANs count (lower-cased); IP SANs do not; no certificate gives no names."""
    assert certificate_names(PEERCERT) == ["mail.protection.outlook.com", "mail.protection.outlook.com",
                                           "*.mail.protection.outlook.com"]
    assert certificate_names(None) == [] and certificate_names({}) == []


@pytest.mark.parametrize(
    ("wanted", "presented", "ok"),
    [
        (["mail.protection.outlook.com"], ["MAIL.protection.outlook.com"], True),
        (["mail.protection.outlook.com"], ["evil.example.org"], False),
        (["mail.protection.outlook.com"], ["*.protection.outlook.com"], False),  # cert wildcard: literal only
        (["*.protection.outlook.com"], ["mail.protection.outlook.com"], True),
        (["*.protection.outlook.com"], ["a.mail.protection.outlook.com"], False),  # one label only
        (["*.protection.outlook.com"], ["protection.outlook.com"], False),
        (["*.protection.outlook.com"], ["*.protection.outlook.com"], True),
        (["mail.protection.outlook.com"], [], False),
    ],
)
def test_name_matching(wanted: list[str], presented: list[str], ok: bool) -> None:
    """Exact names, and a configured `*.` matching exactly one label."""
    assert name_matches(wanted, [n.lower() for n in presented]) == ok
