"""The digest's numbers and wording, from a pure function of incident records with a frozen clock."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.digest import build_digest, day_bounds, previous_day
from gateway.notify.digest import digest_email, render_digest
from gateway.policy.model import Action, Decision
from gateway.store.records import IncidentRecord, QuarantineRecord, incident_values
from tests.store_fixtures import (
    assert_no_secrets,
    hit,
    load_config,
    make_scan,
    make_submission,
    monitor_decision,
    quarantine_decision,
    reject_decision,
    write_config,
)

LONDON = ZoneInfo("Europe/London")
DAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)


def incident(n: int, at: datetime, decision: Decision, *, delivered: bool = False, quarantined: bool = False,
             sender: str = "alice@cafcass.gov.uk") -> IncidentRecord:
    sub = make_submission(mail_from=sender, received_at=at)
    values = incident_values(sub, make_scan(sub), decision, reference=f"INC-2026-{n:06d}", node="node-a", now=at,
                             delivered=delivered, quarantined=quarantined, upstream_reply=None)
    if decision.monitor and delivered:  # triaged as a potential breach (a monitor hit alone is only ``new``)
        values |= {"status": "potential_breach", "deadline_at": at + timedelta(hours=24)}
    return IncidentRecord(id=n, alert_attempt_at=None, alerted_at=None, **values)


def held(rec: IncidentRecord) -> QuarantineRecord:
    return QuarantineRecord(reference=rec.reference, stored_at=rec.created_at, state="held",
                            state_changed_at=rec.created_at, state_by=None, mail_from=rec.sender,
                            rcpt_tos=[r["address"] for r in rec.recipients], size=rec.size, sha256="0" * 64,
                            encryption="none", release_reply=None, purged_at=None, incident=rec)


def seeded() -> tuple[list[IncidentRecord], list[QuarantineRecord], list[IncidentRecord]]:
    at = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    q1 = incident(1, at, quarantine_decision(), quarantined=True)
    q2 = incident(2, at + timedelta(hours=2), quarantine_decision(), quarantined=True, sender="carol@cafcass.gov.uk")
    r1 = incident(3, at + timedelta(hours=3), reject_decision())
    pb = incident(4, datetime(2026, 3, 10, 16, 0, tzinfo=UTC), monitor_decision(), delivered=True)
    tag = incident(5, at, Decision(Action.TAG, hits=(hit("bcc-reminder", Action.TAG, clause="IA 4.6"),)),
                   delivered=True)
    # 23:30 UTC on 9 March is 9 March in London (GMT); 23:30 UTC on 10 March is still 10 March (GMT).
    late = incident(6, datetime(2026, 3, 10, 23, 30, tzinfo=UTC), reject_decision(), sender="dave@cafcass.gov.uk")
    before = [incident(10 + i, datetime(2026, 3, 3 + i, 12, 0, tzinfo=UTC), reject_decision()) for i in range(7)]
    earlier = incident(30, datetime(2026, 3, 9, 23, 30, tzinfo=UTC), reject_decision(), sender="dave@cafcass.gov.uk")
    everything = [*before, earlier, q1, q2, r1, pb, tag, late]
    return everything, [held(q1), held(q2)], [pb]


def test_counts_by_action_rule_clause_and_class() -> None:
    """Totals for the day by action, status, rule, clause, detector and recipient class are right."""
    incidents, held_items, breaches = seeded()
    d = build_digest(organisation="Cafcass", day=DAY, tz=LONDON, now=NOW, incidents=incidents, held=held_items,
                     breaches=breaches)
    assert d.total == 6
    assert {c.key: c.count for c in d.by_action} == {"pass": 1, "tag": 1, "encrypt": 0, "quarantine": 2,
                                                     "reject": 2}
    assert {c.key: c.count for c in d.by_status} == {"new": 5, "potential_breach": 1}
    assert {(r.rule_id, r.mode): r.count for r in d.by_rule} == {
        ("personal-data-freemail", "enforce"): 2, ("case-data-to-ai", "enforce"): 2,
        ("special-category-external", "monitor"): 1, ("bcc-reminder", "enforce"): 1,
    }
    assert {c.key: c.count for c in d.by_clause} == {"IA 4.3": 2, "IA 4.9": 2, "IA 4.5": 1, "IA 4.6": 1}
    assert d.monitor_incidents == 1
    assert {e.entity: (e.messages, e.findings) for e in d.by_entity}["PERSON"] == (6, 12)
    assert {c.key: c.count for c in d.by_recipient_class} == {"freemail": 6, "internal": 6}
    assert {c.key: c.count for c in d.by_detector}["NhsRecognizer"] == 6


def test_open_items_with_age_and_time_left() -> None:
    """Held messages show their age; potential breaches the time left on the 24-hour clock, or overdue."""
    incidents, held_items, breaches = seeded()
    d = build_digest(organisation="Cafcass", day=DAY, tz=LONDON, now=NOW, incidents=incidents, held=held_items,
                     breaches=breaches)
    assert [h.reference for h in d.held] == ["INC-2026-000001", "INC-2026-000002"]
    assert d.held[0].age_hours == pytest.approx(21.0)
    assert d.breaches[0].hours_left == pytest.approx(9.0)
    assert not d.breaches[0].overdue
    later = build_digest(organisation="Cafcass", day=DAY, tz=LONDON, now=NOW + timedelta(hours=10),
                         incidents=incidents, held=held_items, breaches=breaches)
    assert later.breaches[0].overdue and later.breaches[0].hours_left == pytest.approx(-1.0)


def test_repeat_senders_and_trend() -> None:
    """Repeat senders count the day and the 7 days before; the trend compares the day with that average."""
    incidents, held_items, breaches = seeded()
    d = build_digest(organisation="Cafcass", day=DAY, tz=LONDON, now=NOW, incidents=incidents, held=held_items,
                     breaches=breaches)
    repeat = {s.sender: (s.day_count, s.window_count) for s in d.repeat_senders}
    assert repeat == {"alice@cafcass.gov.uk": (4, 11), "dave@cafcass.gov.uk": (1, 2)}
    assert [t.total for t in d.trend] == [1, 1, 1, 1, 1, 1, 2]
    assert d.trend[0].day == date(2026, 3, 3)
    assert d.trend_average == pytest.approx(8 / 7, abs=0.05)
    assert d.trend_change_pct == pytest.approx((6 - 8 / 7) / (8 / 7) * 100, abs=0.1)


def test_day_bounds_follow_british_summer_time() -> None:
    """The digest's day is local: 23 hours on the day the clocks go forward, 25 when they go back."""
    start, end = day_bounds(date(2026, 3, 29), LONDON)
    assert (end - start) == timedelta(hours=23)
    start, end = day_bounds(date(2026, 10, 25), LONDON)
    assert (end - start) == timedelta(hours=25)
    start, _ = day_bounds(date(2026, 7, 1), LONDON)
    assert start.astimezone(UTC) == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert previous_day(datetime(2026, 7, 1, 23, 30, tzinfo=UTC), LONDON) == date(2026, 7, 1)


def test_rendered_digest_has_counts_and_no_content(tmp_path: Path) -> None:
    """Text and HTML parts carry the counts, addresses and masked attachment names, and no message content."""
    cfg = load_config(write_config(tmp_path))
    incidents, held_items, breaches = seeded()
    d = build_digest(organisation="Cafcass", day=DAY, tz=LONDON, now=NOW, incidents=incidents, held=held_items,
                     breaches=breaches)
    rendered = render_digest(cfg, d)
    assert rendered.subject == "Cafcass DLP digest for Tue 10 Mar 2026 - 1 potential breach open"
    for part in (rendered.text, rendered.html):
        assert_no_secrets(part, "digest")
        assert "INC-2026-000004" in part and "someone@gmail.com" in part and "r*****.pdf" in part
    assert "Totals for the day: 6 incidents" in rendered.text
    assert "9h00m left" in rendered.text
    assert "held 21h00m" in rendered.text
    msg = digest_email(cfg, rendered, DAY, NOW)
    assert msg["To"] == "governance@cafcass.gov.uk"
    assert msg.get_body(("html",)) is not None


def test_html_escapes_sender_controlled_names(tmp_path: Path) -> None:
    """Attachment names are sender-controlled: the HTML digest escapes them."""
    cfg = load_config(write_config(tmp_path))
    incidents, held_items, breaches = seeded()
    bad = dataclasses.replace(breaches[0], attachments=[{"name": "<script>x</script>.pdf", "location": "a",
                                                         "content_type": "application/pdf",
                                                         "declared_type": "application/pdf", "size": 1}])
    d = build_digest(organisation="Cafcass", day=DAY, tz=LONDON, now=NOW, incidents=incidents, held=held_items,
                     breaches=[bad])
    html = render_digest(cfg, d).html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_edited_template_in_config_folder_wins(tmp_path: Path) -> None:
    """The governance team's edited template is used; missing ones fall back to the packaged defaults."""
    cfg_dir = write_config(tmp_path)
    (cfg_dir / "templates").mkdir()
    (cfg_dir / "templates" / "digest.txt.j2").write_text("Subject: Custom {{ d.total }}\n\nTotal {{ d.total }}\n")
    cfg = load_config(cfg_dir)
    incidents, held_items, breaches = seeded()
    d = build_digest(organisation="Cafcass", day=DAY, tz=LONDON, now=NOW, incidents=incidents, held=held_items,
                     breaches=breaches)
    rendered = render_digest(cfg, d)
    assert rendered.subject == "Custom 6"
    assert rendered.text == "Total 6\n"
    assert "Potential breaches" in rendered.html
