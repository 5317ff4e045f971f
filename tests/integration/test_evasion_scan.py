"""Evasion routes of issue 12 (sections 2, 3, 5, 7b, 7c) through `dlpgate scan --json`, several variants each.

One scan run reads every variant (spaCy loads once): each fire variant must give its entity at its location and
a decision other than pass; each near miss must pass with no identifier found.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import mime_fixtures as fx
from tests.smtp_fixtures import REPO

SENDER = "jane.smith@cafcass.gov.uk"
EXTERNAL = "n.okafor@okafor-law.co.uk"


def _eml(headers: str, body: str, ctype: str = "text/plain; charset=utf-8") -> bytes:
    head = (f"From: Jane Smith <{SENDER}>\nTo: Ms Okafor <{EXTERNAL}>\nSubject: Notes\n{headers}"
            f"MIME-Version: 1.0\nContent-Type: {ctype}\nContent-Transfer-Encoding: 8bit\n\n")
    return (head + body).replace("\n", "\r\n").encode("utf-8")


def _with_attachment(name: str, data: bytes, ctype: str) -> bytes:
    msg = fx.message(attachments=[(name, data, ctype)])
    del msg["To"]
    msg["To"] = EXTERNAL
    return fx.raw(msg)


def _zip(*members: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return out.getvalue()


def _xlsx() -> bytes:
    import openpyxl
    from openpyxl.workbook.defined_name import DefinedName

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "Totals"
    sheet["B2"] = '="NHS number "&"943 476 "&"5919"'
    book.defined_names["Child"] = DefinedName("Child", attr_text='"Case ZW24C50123"')
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# name -> (message bytes, entity expected, location prefix expected); entity None: a near miss that must pass
FIRE: dict[str, tuple[bytes, str, str]] = {
    "name-attachment": (_with_attachment("Amelia_Thompson_ZW24C50123.txt", b"To follow.", "text/plain"),
                        "UK_FAMILY_CASE_NUMBER", "attachment-name:"),
    "name-zip-member": (_with_attachment("bundle.zip", _zip(("docs/NHS 943 476 5919.txt", b"x")),
                                         "application/zip"), "UK_NHS", "attachment-name:bundle.zip/"),
    "header-display-name": (_eml("", "See below.\n").replace(
        b"To: Ms Okafor", b'To: "Amelia Thompson DOB 14/03/2017"'), "DATE_OF_BIRTH", "header:To"),
    "header-cc-encoded": (_eml("Cc: =?utf-8?q?case_ZW24C50123?= <x@example.org>\n", "Hello.\n"),
                          "UK_FAMILY_CASE_NUMBER", "header:Cc"),
    "header-x": (_eml("X-Ref: NHS 943 476 5919\n", "Hello.\n"), "UK_NHS", "header:X-Ref"),
    "header-keywords": (_eml("Keywords: ZW24C50123\n", "Hello.\n"), "UK_FAMILY_CASE_NUMBER", "header:Keywords"),
    "header-thread-topic": (_eml("Thread-Topic: NINO AB123456C\n", "Hello.\n"), "UK_NINO", "header:Thread-Topic"),
    "preamble": (_eml("", "Preamble NHS 943 476 5919\n--b\nContent-Type: text/plain\n\nHi\n--b--\n",
                      'multipart/mixed; boundary="b"'), "UK_NHS", "preamble"),
    "epilogue": (_eml("", "--b\nContent-Type: text/plain\n\nHi\n--b--\nEpilogue ZW24C50123\n",
                      'multipart/mixed; boundary="b"'), "UK_FAMILY_CASE_NUMBER", "epilogue"),
    "css-content": (_eml("", '<html><head><style>p::after{content:"NHS 943 476 5919"}</style></head>'
                             "<body><p>Hello</p></body></html>\n", "text/html; charset=utf-8"),
                    "UK_NHS", "body.html"),
    "link-query": (_eml("", '<html><body><a href="https://x.example/?ref=ZW24C50123">form</a></body></html>\n',
                        "text/html; charset=utf-8"), "UK_FAMILY_CASE_NUMBER", "body.html:link"),
    "link-base64": (_eml("", '<html><body><img src="https://t.example/p.gif?q=TkhTIDk0MyA0NzYgNTkxOQ=="></body>'
                             "</html>\n", "text/html; charset=utf-8"), "UK_NHS", "body.html:link"),
    "link-plain-text": (_eml("", "Open https://x.example/f?nhs=943%20476%205919 please.\n"), "UK_NHS",
                        "body:link"),
    "xlsx-formula-and-name": (_with_attachment("t.xlsx", _xlsx(), "application/octet-stream"), "UK_NHS",
                              "attachment:t.xlsx"),
    "odt-hidden": (_with_attachment("n.odt", fx.odt_bytes(
        '<text:hidden-text text:condition="ooow:1" text:string-value="NHS number 943 476 5919"/>'),
        "application/vnd.oasis.opendocument.text"), "UK_NHS", "attachment:n.odt"),
    # section 3: what the reader's eye undoes
    "cyrillic-nino": (_eml("", "NI number \u0410\u0412123456\u0421 please.\n"), "UK_NINO", "body"),
    "greek-case": (_eml("", "Case \u0396W24C50123 is listed.\n"), "UK_FAMILY_CASE_NUMBER", "body"),
    "letter-digits": (_eml("", "NHS number 9l3 476 59I9 thanks\n".replace("9l3", "943")), "UK_NHS", "body"),
    "letter-o-in-case": (_eml("", "Re: ZW24C5O123 hearing\n"), "UK_FAMILY_CASE_NUMBER", "body"),
    "wrapped-nhs": (_eml("", "NHS number 943 476\n5919 thanks\n"), "UK_NHS", "body"),
    "wrapped-hyphen": (_eml("", "NHS number 943-476-\n5919 thanks\n"), "UK_NHS", "body"),
    "wrapped-case": (_eml("", "The case ZW24C\n50123 is listed.\n"), "UK_FAMILY_CASE_NUMBER", "body"),
    "arabic-digits": (_eml("", "NHS number \u0669\u0664\u0663 \u0664\u0667\u0666 \u0665\u0669\u0661\u0669\n"),
                      "UK_NHS", "body"),
    "devanagari-digits": (_eml("", "NHS number \u096f\u096a\u0969 \u096a\u096d\u096c \u096b\u096f\u0967\u096f\n"),
                          "UK_NHS", "body"),
    "variation-selectors": (_eml("", "NHS number 9\ufe0f43 4\U000e003776 59\u034f19\n"), "UK_NHS", "body"),
    "lower-case-number": (_eml("", "the case zw24c50123 is listed\n"), "UK_FAMILY_CASE_NUMBER", "body"),
    "html-zero-font": (_eml("", '<html><body><p>NHS number 943 476 59<span style="font-size:0">00</span>19</p>'
                                "</body></html>\n", "text/html; charset=utf-8"), "UK_NHS", "body.html"),
    "html-transparent": (_eml("", '<html><body><p>Case ZW24C5<span style="color:transparent">x</span>0123</p>'
                                  "</body></html>\n", "text/html; charset=utf-8"), "UK_FAMILY_CASE_NUMBER",
                         "body.html"),
}
NEAR_MISS: dict[str, bytes] = {
    "recipients-display-names": _eml("Cc: \"Harris, David (Northfield)\" <d.harris@example.org>\n",
                                     "Thanks for the room booking.\n").replace(
        b"To: Ms Okafor", b'To: "Okafor, Ngozi (Okafor Law)"'),
    "machine-headers": _eml("Message-ID: <9434765919.ZW24C50123@example.org>\nX-MS-Exchange-Organization-SCL: -1\n"
                            "X-Mailer: Outlook ZW24C50123\nReceived: from x by y id 9434765919\n"
                            "List-Unsubscribe: <https://l.example/u?id=9434765919>\n", "Thanks.\n"),
    "ordinary-attachment-names": _with_attachment("Workshop_agenda_2024-03-14 v2 (final).txt", b"Agenda.",
                                                  "text/plain"),
    "tracking-links": _eml("", '<html><body><a href="https://n.example/c?u=5f4dcc3b5aa765d61d8327deb882cf99'
                               '&amp;utm_source=newsletter&amp;utm_medium=email&amp;id=20240314">news</a>'
                               "</body></html>\n", "text/html; charset=utf-8"),
    "russian-greek-emoji": _eml("", "\u0414\u043e\u0431\u0440\u044b\u0439 \u0434\u0435\u043d\u044c, "
                                    "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \U0001f44b\U0001f3fd "
                                    "\u2714\ufe0f\n"),
    "units-and-models": _eml("", "We need 10lbs of fruit, 20l of water and a Win10 laptop.\n"),
    "numbers-on-lines": _eml("", "Room totals:\n2019 100\n2020 200\n2021 300\n"),
}


def _scan(files: list[Path], config: Path, *extra: str) -> dict[str, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "scan", "--json", "--reveal", "--config", str(config),
         "--mail-from", SENDER, *extra, *map(str, files)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return {Path(r["file"]).stem: r for r in map(json.loads, proc.stdout.splitlines())}


def _write(tmp: Path, messages: dict[str, bytes]) -> list[Path]:
    paths = []
    for name, data in messages.items():
        path = tmp / f"{name}.eml"
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_every_readable_place_and_reader_trick_is_caught(tmp_path: Path) -> None:
    """Each fire variant yields its entity at its location and is not passed; each near miss passes clean."""
    files = _write(tmp_path, {k: v[0] for k, v in FIRE.items()} | NEAR_MISS)
    records = _scan(files, REPO / "config", "--rcpt", EXTERNAL)
    problems = []
    for name, (_data, entity, location) in FIRE.items():
        rec = records[name]
        where = [loc for f in rec["findings"] if f["entity"] == entity for loc in f["locations"]]
        if rec["decision"] == "pass" or not any(loc.startswith(location) for loc in where):
            problems.append((name, rec["decision"], [(f["entity"], f["locations"]) for f in rec["findings"]]))
    for name in NEAR_MISS:
        rec = records[name]
        if rec["decision"] != "pass" or rec["sensitivity"] != "none":
            problems.append((name, rec["decision"], [(f["entity"], f["locations"]) for f in rec["findings"]]))
    assert problems == []
    # the correspondents' own names in address fields are no findings; what is written into them is, and so is a
    # name that does not spell the recipient's mailbox (issue 12 section 6)
    assert {name for name, rec in records.items() for f in rec["findings"] if f["entity"] == "PERSON"
            for loc in f["locations"] if loc.startswith("header:")} <= {"header-display-name"}
    # spans point at what the sender wrote
    texts = {t for f in records["cyrillic-nino"]["findings"] for t in f.get("texts", [])}
    assert "\u0410\u0412123456\u0421" in texts
    texts = {t for f in records["wrapped-nhs"]["findings"] for t in f.get("texts", [])}
    assert "943 476\n5919" in texts


def test_routing_addresses_are_never_internal(tmp_path: Path) -> None:
    """Percent hack, bang path and quoted routes at the organisation's domain count as external recipients."""
    files = _write(tmp_path, {"child": _eml("", "Child: Amelia Thompson, NHS number 943 476 5919.\n"),
                              "plain": _eml("", "Thanks for the booking.\n")})
    routed = ["n.okafor%okafor-law.co.uk@cafcass.gov.uk", "okafor-law.co.uk!n.okafor@cafcass.gov.uk",
              '"n.okafor@okafor-law.co.uk"@cafcass.gov.uk', '"n.okafor%gmail.com"@cafcass.gov.uk']
    args = [a for r in routed for a in ("--rcpt", r)]
    records = _scan(files, REPO / "config", *args)
    assert {r["class"] for r in records["child"]["recipients"]} <= {"external", "freemail"}
    assert records["child"]["decision"] == "encrypt"
    assert records["plain"]["decision"] == "pass"


def _config_with_child_ref(tmp: Path, weight: str | None) -> Path:
    cfg = tmp / f"config-{weight}"
    shutil.copytree(REPO / "config", cfg)
    data = yaml.safe_load((cfg / "detectors.yaml").read_text())
    data["recognizer_registry"]["recognizers"].append({
        "name": "ChildReferenceRecognizer", "type": "custom", "supported_entity": "CHILD_REF",
        "patterns": [{"name": "child reference", "regex": r"(?-i:\bCR-\d{6}\b)", "score": 0.8}]})
    data["report_entities"].append("CHILD_REF")
    if weight:
        data["entity_weights"] = {"CHILD_REF": weight}
    (cfg / "detectors.yaml").write_text(yaml.safe_dump(data))
    return cfg


@pytest.mark.parametrize(("weight", "sensitivity", "decision"), [("strong", "personal", "encrypt"),
                                                                 (None, "none", "pass")])
def test_custom_entity_weight_raises_sensitivity(tmp_path: Path, weight: str | None, sensitivity: str,
                                                 decision: str) -> None:
    """The worked example: CHILD_REF declared strong makes a message personal; undeclared it is only found."""
    files = _write(tmp_path, {"ref": _eml("", "Thanks, the child reference is CR-123456.\n")})
    rec = _scan(files, _config_with_child_ref(tmp_path, weight), "--rcpt", EXTERNAL)["ref"]
    assert [f["entity"] for f in rec["findings"]] == ["CHILD_REF"]
    assert (rec["sensitivity"], rec["decision"]) == (sensitivity, decision)


def test_check_config_refuses_rule_with_unknown_entity(tmp_path: Path) -> None:
    """check-config exits 2 naming policy.yaml, the rule key and the closest entity name."""
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    data = yaml.safe_load((cfg / "policy.yaml").read_text())
    data["rules"].append({"id": "nhs-typo", "clause": "IA 4.5", "action": "quarantine", "reason": "Ref {ref}.",
                          "when": {"recipient_classes": ["external"], "entities": [{"type": "UK_NHS_NUMBER"}]}})
    (cfg / "policy.yaml").write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "check-config", "--config", str(cfg), "--no-samples"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2
    assert "policy.yaml: rules." in proc.stderr and ".when.entities.0.type" in proc.stderr
    assert "did you mean `UK_NHS`" in proc.stderr
