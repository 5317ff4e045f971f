"""Routing addresses (percent hack, bang path, quoted @): refused at RCPT, never classified internal."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.recipients import RecipientClassifier
from detectors.routing import has_route, route_of
from gateway.policy.config import load_policy
from gateway.scan import recipient_classifier
from gateway.smtp import replies

ROOT = Path(__file__).resolve().parents[2]
SENDER = "jane.smith@cafcass.gov.uk"


@pytest.fixture(scope="module")
def classifier() -> RecipientClassifier:
    return recipient_classifier(["cafcass.gov.uk"], load_policy(ROOT / "config" / "policy.yaml"))


@pytest.mark.parametrize(
    ("address", "kind", "destination"),
    [
        ("user%evil.com@cafcass.gov.uk", "percent", "user@evil.com"),
        ("<user%evil.com@cafcass.gov.uk>", "percent", "user@evil.com"),
        ("a.b%Mail.Evil.COM.@cafcass.gov.uk", "percent", "a.b@mail.evil.com"),
        ("user%evil.com%cafcass.gov.uk@cafcass.gov.uk", "percent", "user@evil.com"),
        ("evil.com!user@cafcass.gov.uk", "bang", "user@evil.com"),
        ("hop.cafcass.gov.uk!evil.com!user@cafcass.gov.uk", "bang", "user@evil.com"),
        ('"user@evil.com"@cafcass.gov.uk', "quoted", "user@evil.com"),
        ('"user\\@evil.com"@cafcass.gov.uk', "quoted", "user@evil.com"),
        ('"user%evil.com"@cafcass.gov.uk', "quoted", "user@evil.com"),
        ('"@evil.com:user@gmail.com"@cafcass.gov.uk', "quoted", "user@gmail.com"),
        ('"evil.com!user"@cafcass.gov.uk', "quoted", "user@evil.com"),
    ],
)
def test_routes_are_found_with_their_destination(address: str, kind: str, destination: str) -> None:
    """Each routing form names where a hop that honours it would deliver."""
    route = route_of(address)
    assert route is not None
    assert (route.kind, route.destination) == (kind, destination)
    assert has_route(address)


@pytest.mark.parametrize(
    "address",
    ["jane.smith@cafcass.gov.uk", "o'brien@cafcass.gov.uk", "a+tag@gmail.com", '"jane smith"@cafcass.gov.uk',
     "<@hop.example:user@cafcass.gov.uk>", "postmaster", "", "user@"],
)
def test_ordinary_addresses_have_no_route(address: str) -> None:
    """Plus tags, apostrophes, quoted spaces and RFC 5321 source routes (ignored by every hop) are not routes."""
    assert route_of(address) is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("user%evil.com@cafcass.gov.uk", "external"),
        ("evil.com!user@cafcass.gov.uk", "external"),
        ('"user@evil.com"@cafcass.gov.uk', "external"),
        ('"user%evil.com"@cafcass.gov.uk', "external"),
        ("janesmith84%gmail.com@cafcass.gov.uk", "personal"),
        ("someone%gmail.com@cafcass.gov.uk", "freemail"),
        ("a%cafcas.gov.uk@cafcass.gov.uk", "lookalike"),
        # routed back inside: still never internal (a hop outside could have been on the way)
        ("colleague%cafcass.gov.uk@cafcass.gov.uk", "external"),
        ("colleague@cafcass.gov.uk", "internal"),
    ],
)
def test_routed_recipients_are_never_internal(classifier: RecipientClassifier, address: str, expected: str) -> None:
    """A routed address is classified by where it would be delivered, and never as internal."""
    info = classifier.classify(SENDER, "Jane Smith", [address])[0]
    assert info.cls == expected
    if address != "colleague@cafcass.gov.uk":
        assert "routing address" in info.evidence
        assert "evil" not in info.evidence  # evidence names types, never addresses
        assert not classifier.is_internal(address)


def test_refusal_reply_is_permanent_and_explains() -> None:
    """The RCPT refusal is a 5xx that tells the sender which characters are not accepted."""
    assert replies.S553_RECIPIENT_ROUTED.startswith("553 5.1.3 ")
    assert "%" in replies.S553_RECIPIENT_ROUTED and "!" in replies.S553_RECIPIENT_ROUTED
