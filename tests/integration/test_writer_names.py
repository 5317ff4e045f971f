"""A name the layout reads as a writer (a quoted author, a signer) links no topic after it (issue 11/12).

Since issue 12 a quoted author who is not a correspondent is content, a name like any other. What follows an
attribution line is that person's own writing, and what follows a signer's name is a job title: neither is a
topic said about them, so neither makes a bare name special category. A topic after a name in running text
still does. Through ``dlpgate scan --json`` (real detectors)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_evasion_correspondents import _brief, _eml, _forward, _scan, _write


def test_writer_names_link_no_topic(tmp_path: Path) -> None:
    messages = {
        "quoted-author": _eml(_forward(
            "Dave Wilson",
            "Despite being one of Dijkstra's brain-damaged children who learned BASIC\nat an early age, "
            "I never use GOTO.\n", style="quote")),
        "apple-author": _eml(_forward(
            "Dave Wilson", "Brain-damaged code like this should never ship, in my view.\n", style="apple")),
        "signer-title": _eml("The rota for next month is attached.\n\nKind regards,\nAmelia Brown\n"
                             "Mental Health Nurse\nLeeds Teaching Hospitals\n"),
        "running-text": _eml("Amelia Brown disclosed that she was sexually abused by her stepfather.\n"),
        "quoted-running-text": _eml(_forward(
            "Dave Wilson",
            "Amelia Brown disclosed that she was sexually abused by her stepfather.\n", style="quote")),
    }
    records = _scan(_write(tmp_path, messages))
    for name in ("quoted-author", "apple-author", "signer-title"):
        assert records[name]["sensitivity"] != "special_category", (name, _brief(records[name]))
    for name in ("running-text", "quoted-running-text"):
        assert records[name]["sensitivity"] == "special_category", (name, _brief(records[name]))
