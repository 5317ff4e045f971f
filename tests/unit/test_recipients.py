"""Recipient classes: internal, personal, lookalike, storage_or_ai, freemail, external."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.lookalike import LookalikeDetector, edit_distance, skeleton, to_ascii
from detectors.recipients import RecipientClassifier, local_part_is_senders, sender_name_pairs
from gateway.policy.config import PolicyLists, load_policy
from gateway.scan import recipient_classifier

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy(ROOT / "config" / "policy.yaml")
ORG = ["cafcass.gov.uk"]
SENDER = "jane.smith@cafcass.gov.uk"


@pytest.fixture(scope="module")
def classifier() -> RecipientClassifier:
    return recipient_classifier(ORG, POLICY)


def cls_of(c: RecipientClassifier, rcpt: str, sender: str = SENDER, name: str = "Jane Smith") -> str:
    return c.classify(sender, name, [rcpt])[0].cls


@pytest.mark.parametrize(
    ("rcpt", "expected"),
    [
        ("colleague@cafcass.gov.uk", "internal"),
        ("Colleague@CAFCASS.GOV.UK", "internal"),
        ("someone@mail.cafcass.gov.uk", "internal"),
        ("<someone@cafcass.gov.uk>", "internal"),
        ("someone@cafcass.gov.uk.", "internal"),
        ("janesmith84@gmail.com", "personal"),
        ("j.smith.home@btinternet.com", "personal"),
        ("smithjane@sky.com", "personal"),
        ("jane_smith@virginmedia.com", "personal"),
        ("jsmith@talktalk.net", "personal"),
        ("smith.j@outlook.com", "personal"),
        ("Jane.Smith+dlp@GMAIL.com", "personal"),
        ("janeasmith@yahoo.co.uk", "personal"),
        ("tom.smith@gmail.com", "freemail"),
        ("smith84@gmail.com", "freemail"),
        ("jane84@gmail.com", "freemail"),
        ("someone@user.plus.com", "freemail"),
        ("cafcas.gov.uk", "external"),
        ("a@cafcas.gov.uk", "lookalike"),
        ("a@cafcsas.gov.uk", "lookalike"),
        ("a@cafcass.gov.co.uk", "lookalike"),
        ("a@cafcass-gov.uk", "lookalike"),
        ("a@cafcassgov.uk", "lookalike"),
        ("a@cafcass.gov.uk.example.net", "lookalike"),
        ("a@mail.cafcas.gov.uk", "lookalike"),
        ("a@cafcass.co.uk", "lookalike"),
        ("a@cafc\u0430ss.gov.uk", "lookalike"),
        ("a@" + to_ascii("cafc\u0430ss.gov.uk"), "lookalike"),
        ("a@justlce.gov.uk", "lookalike"),
        ("a@justice.gov.uk", "external"),
        ("a@family.justice.gov.uk", "external"),
        ("a@nhs.net", "external"),
        ("a@cafcasscymru.gov.wales", "external"),
        ("a@smithandco-solicitors.co.uk", "external"),
        ("me@onenote.com", "storage_or_ai"),
        ("jane@onenote.com", "external"),
        ("jane_abc@kindle.com", "storage_or_ai"),
        ("folder.x1@u.box.com", "storage_or_ai"),
        ("fred@fireflies.ai", "storage_or_ai"),
        ("upload-7f3a9c@upload.dropbox.com", "storage_or_ai"),
        ("notes@otter.ai", "storage_or_ai"),
        ("no-at-sign", "external"),
        ("x@[192.0.2.1]", "external"),
    ],
)
def test_classes(classifier: RecipientClassifier, rcpt: str, expected: str) -> None:
    """Each recipient gets the most specific class the lists and name rules support."""
    assert cls_of(classifier, rcpt) == expected


def test_family_member_is_freemail_not_personal(classifier: RecipientClassifier) -> None:
    """A relative who shares the surname is freemail: the surname alone does not make an address the sender's."""
    assert cls_of(classifier, "mark.smith1970@gmail.com") == "freemail"


def test_name_from_display_name_only(classifier: RecipientClassifier) -> None:
    """The From display name ("Smith, Jane") identifies the sender when the mailbox name does not."""
    assert cls_of(classifier, "janesmith@gmail.com", sender="js4@cafcass.gov.uk", name="SMITH, Jane") == "personal"
    assert cls_of(classifier, "janesmith@gmail.com", sender="js4@cafcass.gov.uk", name="") == "freemail"


def test_double_barrelled_and_accented_names() -> None:
    """Hyphenated and accented names match their plain forms in mailbox names."""
    pairs = sender_name_pairs("sian.obrien-jones@cafcass.gov.uk", "Siân O'Brien-Jones")
    assert local_part_is_senders("sianjones77", pairs)
    assert local_part_is_senders("sian.obrienjones", pairs)
    assert not local_part_is_senders("obrienjones.family", pairs)


def test_personal_directory_any_domain() -> None:
    """A directory entry makes an address personal for that staff member only, whatever its domain."""
    lists = PolicyLists(
        freemail=POLICY.lists.freemail,
        personal_directory={SENDER: frozenset({"sunflower77@example.org"})},
    )
    c = recipient_classifier(ORG, POLICY.with_lists(lists))
    assert cls_of(c, "sunflower77@example.org") == "personal"
    assert cls_of(c, "sunflower77@example.org", sender="tom.jones@cafcass.gov.uk", name="Tom Jones") == "external"


def test_precedence_personal_over_lookalike_and_internal_first(classifier: RecipientClassifier) -> None:
    """Class order is internal > personal > lookalike > storage_or_ai > freemail > external."""
    out = classifier.classify(SENDER, "Jane Smith", ["a@cafcass.gov.uk", "janesmith@gmail.com", "b@cafcas.gov.uk"])
    assert [r.cls for r in out] == ["internal", "personal", "lookalike"]


def test_evidence_never_contains_the_address(classifier: RecipientClassifier) -> None:
    """Evidence strings name the reason, never the recipient's address or mailbox name."""
    for rcpt in ("janesmith84@gmail.com", "x@cafcas.gov.uk", "me@onenote.com", "tom@gmail.com"):
        info = classifier.classify(SENDER, "Jane Smith", [rcpt])[0]
        assert rcpt.split("@")[0] not in info.evidence


def test_is_internal(classifier: RecipientClassifier) -> None:
    """Internal means an organisation domain or a subdomain, nothing that merely ends with the same letters."""
    assert classifier.is_internal("a@cafcass.gov.uk")
    assert classifier.is_internal("a@x.cafcass.gov.uk")
    assert not classifier.is_internal("a@notcafcass.gov.uk")
    assert not classifier.is_internal("a@cafcass.gov.uk.evil.net")
    assert not classifier.is_internal("cafcass.gov.uk")


def test_null_sender_has_no_personal() -> None:
    """Bounces (null sender) have no name, so nothing can be the sender's personal address."""
    c = recipient_classifier(ORG, POLICY)
    assert c.classify("", "", ["janesmith@gmail.com"])[0].cls == "freemail"


def test_lookalike_can_be_disabled() -> None:
    """With lookalike checks off, an imitation domain is just external."""
    data = POLICY.model_dump()
    data["recipients"]["lookalike"]["enabled"] = False
    policy = type(POLICY).model_validate(data).with_lists(POLICY.lists)
    c = recipient_classifier(ORG, policy)
    assert cls_of(c, "a@cafcas.gov.uk") == "external"


@pytest.mark.parametrize(
    "domain",
    ["met.police.uk", "bury.gov.uk", "gmail.com", "cafe.co.uk", "cafcasscymru.gov.wales", "lawyers.cjsm.net"],
)
def test_lookalike_near_misses(domain: str) -> None:
    """Honest neighbours (other councils, police forces, partner subdomains) are not lookalikes."""
    det = LookalikeDetector(ORG, [*sorted(POLICY.lists.partner_domains), "met.police.uk"])
    assert det.check(domain) is None


def test_short_partner_names_get_no_typo_check() -> None:
    """A three-letter partner name would have too many honest one-letter neighbours to flag."""
    det = LookalikeDetector(ORG, ["met.police.uk"])
    assert det.check("wmp.police.uk") is None
    assert det.check("met.police.uk.example.com") is not None


def test_skeleton_and_distance() -> None:
    """Skeletons equate Cyrillic/Greek look-alikes and digit tricks; distance counts a transposition once."""
    assert skeleton("c\u0430fc\u0430ss") == "cafcass"
    assert skeleton("examp1e") == skeleton("example")
    assert edit_distance("cafcass", "cafcsas", 2) == 1
    assert edit_distance("cafcass", "kafkass", 1) == 2
