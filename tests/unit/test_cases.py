"""Case directory (issue 16): CSV validation and hashing, exact data match, and the pure policy conditions."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from detectors.casedir import read_directory
from detectors.cases import KNOWN_CHILD, CaseMatcher, CaseSnapshot, key_id, name_forms, parse_dates
from detectors.findings import Finding, RecipientInfo, Sensitivity
from detectors.sensitivity import assess_sensitivity
from gateway.facts import ScanResult
from gateway.policy.config import PolicyConfig, PolicyLists
from gateway.policy.engine import case_mismatch, decide
from gateway.policy.model import Action

KEY = b"unit-test-key-0123456789"
CSV = """case_number,role,name,date_of_birth,email
BR25C00417,child,Poppy Jane Ellison,2016-05-09,
BR25C00417,party,Dean Ellison,,
BR25C00417,professional,Ruth Adebayo,,r.adebayo@adebayo-family-law.co.uk
BR25C00417,professional,,,@bristol.gov.uk
MA25P00932,child,Keir Whitmore,23/11/2018,
MA25P00932,professional,Sam Patel,,s.patel@patel-solicitors.co.uk
"""


def matcher(text: str = CSV) -> CaseMatcher:
    parsed = read_directory(io.StringIO(text), KEY)
    assert not parsed.rejected
    return CaseMatcher(CaseSnapshot.build("g1", key_id(KEY), (r.snapshot_row() for r in parsed.adds)), KEY)


def test_rejected_rows_are_named_by_line_and_field_never_by_value() -> None:
    """A bad row is reported with its line number and the field that is wrong; its content never appears."""
    bad = CSV + "XX,child,Secret Name,,\nMA25P00932,teacher,Secret Other,,\nMA25P00932,child,Solo,,\n" \
        "MA25P00932,professional,,,not-an-address\nMA25P00932,child,Anna Smith,31/02/2018,\n"
    parsed = read_directory(io.StringIO(bad), KEY)
    assert [r.line for r in parsed.rejected] == [8, 9, 10, 11, 12]
    assert len(parsed.adds) == 6
    text = " ".join(r.reason for r in parsed.rejected)
    for value in ("Secret", "Solo", "not-an-address", "31/02", "Anna"):
        assert value not in text


def test_wrong_header_rejects_the_whole_file() -> None:
    """A file that is not the directory format is refused on line 1, nothing read."""
    parsed = read_directory(io.StringIO("name,case\nx,y\n"), KEY)
    assert parsed.rejected[0].line == 1 and not parsed.adds


def test_delta_action_column_splits_adds_and_removes() -> None:
    """``--delta`` reads an ``action`` column: add or remove, row by row."""
    text = "case_number,role,name,date_of_birth,email,action\nBR25C00417,party,Dean Ellison,,,remove\n" \
        "BR25C00417,party,Mia Ellison,,,add\n"
    parsed = read_directory(io.StringIO(text), KEY, delta=True)
    assert len(parsed.adds) == 1 and len(parsed.removes) == 1
    full = read_directory(io.StringIO(CSV), KEY)
    assert parsed.removes[0].row_hash in {r.row_hash for r in full.adds}


def test_hashed_rows_hold_no_clear_values() -> None:
    """Every stored field is a keyed hash (or the role): no number, name, date or address survives hashing."""
    parsed = read_directory(io.StringIO(CSV), KEY)
    blob = repr(parsed.adds).lower()
    for value in ("br25c00417", "poppy", "ellison", "2016", "adebayo", "bristol", "patel"):
        assert value not in blob


def test_names_match_in_any_order_with_initials_dropped() -> None:
    """"ELLISON, Poppy", "Poppy J. Ellison" and "Poppy Ellison" are the directory's child, with her date of birth."""
    m = matcher()
    for text in ("Report on ELLISON, Poppy (DOB 09/05/2016).", "Poppy J. Ellison, born 9 May 2016, is well.",
                 "Poppy Ellison born 2016-05-09"):
        got = m.match([("body", text)], [], [])
        assert [f.entity for f in got.findings] == [KNOWN_CHILD], text
        assert len(got.cases) == 1
        assert got.findings[0].text is None  # never revealed unless asked


def test_name_alone_is_not_a_finding() -> None:
    """A child's name without their date of birth or a case number in the message is not enough."""
    m = matcher()
    assert m.match([("body", "Poppy Ellison came to the office.")], [], []).findings == ()
    assert m.match([("body", "Poppy Ellison (DOB 01/01/2016).")], [], []).findings == ()


def test_child_with_any_case_number_and_two_cases_counted() -> None:
    """A named child plus another case's number: two distinct cases (IA 4.14), even with one number."""
    m = matcher()
    got = m.match([("body", "Case BR25C00417: Keir Whitmore mentioned in error.")], ["BR25C00417"], [])
    assert got.distinct == 2 and len(got.cases) == 2


def test_recipient_links_by_address_or_domain() -> None:
    """A recipient is on the case by its address or its domain; another case's solicitor is not."""
    m = matcher()
    got = m.match([("body", "x")], ["BR25C00417"],
                  ["r.adebayo@adebayo-family-law.co.uk", "someone@bristol.gov.uk", "s.patel@patel-solicitors.co.uk"])
    assert got.unlinked == ("s.patel@patel-solicitors.co.uk",)


def test_unknown_case_number_counts_but_links_nobody() -> None:
    """A case number not in the directory is a distinct case but never a mismatch (nothing to compare with)."""
    got = matcher().match([("body", "x")], ["ZW24C50123"], ["s.patel@patel-solicitors.co.uk"])
    assert got.cases == () and got.distinct == 1 and got.unlinked == ()


def test_another_key_is_refused() -> None:
    """A worker with another key says so instead of silently matching nothing."""
    snap = matcher().snapshot
    with pytest.raises(ValueError, match="key"):
        CaseMatcher(snap, b"another-key-0123456789")


def test_snapshot_round_trips_through_a_file(tmp_path: Path) -> None:
    """What the parent writes is what the worker loads."""
    m = matcher()
    m.snapshot.save(tmp_path / "s.npz")
    again = CaseMatcher(CaseSnapshot.load(tmp_path / "s.npz"), KEY)
    assert again.match([("body", "Keir Whitmore (23/11/2018)")], [], []).cases == \
        m.match([("body", "Keir Whitmore (23/11/2018)")], [], []).cases


def test_known_child_is_special_category() -> None:
    """Children's case data: special category on its own."""
    f = Finding(KNOWN_CHILD, 1.0, "body", 0, 5, "CaseDirectory", "P****")
    assert assess_sensitivity([f]) is Sensitivity.SPECIAL_CATEGORY


def test_forms_and_dates() -> None:
    """Name keys sort the words and drop initials; dates are read day first."""
    assert name_forms("Poppy J Ellison") == ["ellison poppy"]
    assert name_forms("Poppy Jane Ellison") == ["ellison jane poppy", "ellison poppy"]
    assert parse_dates("DOB 09/05/2016 or 23rd November 2018") == {"2016-05-09", "2018-11-23"}


# ------------------------------------------------------------------ policy (pure)

POLICY = {
    "rules": [
        {"id": "mismatch", "clause": "IA 4.6", "when": {"recipient_classes": ["external"],
         "case_recipient_mismatch": True}, "action": "quarantine",
         "reason": "Held: {recipient} is not on the case. Ref {ref}."},
        {"id": "cases2", "clause": "IA 4.14", "when": {"recipient_classes": ["external"],
         "distinct_cases_at_least": 2}, "action": "quarantine", "reason": "Held: {cases} cases."},
        {"id": "first", "clause": "IA 4.6", "mode": "enforce", "when": {"recipient_classes": ["external"],
         "first_time_recipient": True}, "action": "tag", "reason": "First time to {recipient}."},
    ]
}


def policy(always: frozenset[str] = frozenset()) -> PolicyConfig:
    return PolicyConfig.model_validate(POLICY).with_lists(PolicyLists(case_always_allowed=always))


def facts(**kw: object) -> ScanResult:
    base: dict[str, object] = {
        "sender": "jane@cafcass.gov.uk",
        "recipients": (RecipientInfo("s.patel@patel-solicitors.co.uk", "external"),
                       RecipientInfo("clerk@court.justice.gov.uk", "external")),
        "sensitivity": Sensitivity.PERSONAL,
    }
    return ScanResult(**(base | kw))  # type: ignore[arg-type]


def test_mismatch_holds_and_names_only_the_address() -> None:
    """Quarantine with a reason naming the recipient, never a case number or a name."""
    f = facts(case_directory=True, cases=("abcd",), distinct_cases=1,
              case_unlinked=("s.patel@patel-solicitors.co.uk",))
    d = decide(f, policy())
    assert d.action is Action.QUARANTINE and d.rule_ids == ["mismatch"]
    assert d.reasons("R1") == ["Held: s.patel@patel-solicitors.co.uk is not on the case. Ref R1."]


def test_always_allowed_recipient_is_no_mismatch() -> None:
    """Courts and partners in case_always_allowed may receive any case (domains cover subdomains)."""
    f = facts(case_directory=True, cases=("abcd",), distinct_cases=1, case_unlinked=("clerk@court.justice.gov.uk",))
    assert case_mismatch(f, policy(frozenset({"justice.gov.uk"})).lists) == ()
    assert decide(f, policy(frozenset({"justice.gov.uk"}))).action is Action.PASS


def test_no_directory_no_case_condition() -> None:
    """With no directory imported the case conditions never hold, whatever the other facts say."""
    f = facts(case_directory=False, cases=("abcd",), distinct_cases=3, case_unlinked=("s.patel@patel-solicitors.co.uk",))
    assert decide(f, policy()).action is Action.PASS


def test_distinct_cases_rule() -> None:
    """Two cases identified either way hold the message (IA 4.14)."""
    d = decide(facts(case_directory=True, distinct_cases=2), policy())
    assert d.rule_ids == ["cases2"] and d.reasons() == ["Held: 2 cases."]


def test_first_time_recipient_needs_content_and_knowledge() -> None:
    """Holds for personal content to a new address; never when unknown or for content with no personal data."""
    new = ("s.patel@patel-solicitors.co.uk",)
    assert decide(facts(first_time=new, first_time_known=True), policy()).action is Action.TAG
    assert decide(facts(first_time=new, first_time_known=False), policy()).action is Action.PASS
    assert decide(facts(first_time=new, first_time_known=True, sensitivity=Sensitivity.NONE),
                  policy()).action is Action.PASS
    assert decide(facts(first_time=(), first_time_known=True), policy()).action is Action.PASS


def test_scan_json_shows_case_fields_only_with_a_directory() -> None:
    """``scan --json`` adds hashed case ids, the mismatching addresses and first-time (null: unknown) once a
    directory exists, and nothing without one."""
    from gateway.commands.scan import result_record

    f = facts(case_directory=True, cases=("abcd",), distinct_cases=1,
              case_unlinked=("s.patel@patel-solicitors.co.uk",))
    rec = result_record(Path("m.eml"), f, decide(f, policy()), False, policy())
    assert rec["cases"] == ["abcd"] and rec["case_mismatch"] == ["s.patel@patel-solicitors.co.uk"]
    assert rec["first_time"] is None
    plain = facts()
    assert "cases" not in result_record(Path("m.eml"), plain, decide(plain, policy()), False, policy())
