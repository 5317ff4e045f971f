"""'partner' as a family role vs a firm's partner (issue 11, point 3): a compound modifier before the role word
makes it a business partner; a determiner, a possessive or a relationship adjective keeps it a person's."""

from __future__ import annotations

import pytest

from detectors.recognizers.person import FamilyRoleNameRecognizer

RECOGNIZER = FamilyRoleNameRecognizer()


def names(text: str) -> list[str]:
    return [text[r.start:r.end] for r in RECOGNIZER.analyze(text, ["PERSON"])]


@pytest.mark.parametrize("text", [
    "It's another great deal from Ryanair and our online phone \npartner, Bumblebee Communications.",
    "Calls are routed through our telecoms partner Bumblebee today.",
    "Our delivery partner Parcelwise will collect on Monday.",
    "The implementation partners Northgate and Capita attended.",
    "with our telecoms partner Zebrafly !\n\nZebrafly Ltd is registered in Dublin.",
])
def test_a_firms_partner_is_not_a_family_member(text: str) -> None:
    assert names(text) == []


@pytest.mark.parametrize(("text", "name"), [
    ("The mother's new partner, John Hale, moved in last year.", "John Hale"),
    ("She lives with her partner Sam Jones and the two children.", "Sam Jones"),
    ("Contact details\nPartner: Jo Bloggs", "Jo Bloggs"),
    ("he moved in with\npartner Kim Wright in 2019", "Kim Wright"),
    ("her former partner, Dean Marsh, was arrested", "Dean Marsh"),
    ("her estranged partner, Dean Marsh, was arrested", "Dean Marsh"),
    ("the mother's violent ex-partner, Dean Marsh, was arrested", "Dean Marsh"),
    ("She reported that her controlling partner Dean Marsh took her phone", "Dean Marsh"),
    ("an ex-partner, Dean Marsh, gave evidence", "Dean Marsh"),
])
def test_a_persons_partner_is_still_found(text: str, name: str) -> None:
    assert name in names(text)
