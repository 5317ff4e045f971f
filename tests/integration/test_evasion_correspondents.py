"""Issue 12 section 6 and 7a through `dlpgate scan --json`: exemptions follow the correspondents, not the layout.

A name or an address is exempt only when it demonstrably belongs to the sender (the envelope mailbox, and the
display-name words that spell it) or an actual recipient. A third party's details in the From display name, in
what looks like the sender's signature, in a forwarded message from someone else or after a greeting to someone
who is not a recipient are content; a reply quoting the recipient's own message and signature still passes.
One scan run reads every variant (spaCy loads once).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.smtp_fixtures import REPO

SENDER = "jane.smith@cafcass.gov.uk"
EXTERNAL = "n.okafor@okafor-law.co.uk"
HOME = "14 Mill Lane, Leeds LS6 2AB"


def _eml(body: str, *, frm: str = f"Jane Smith <{SENDER}>", to: str = f"Ms Okafor <{EXTERNAL}>",
         subject: str = "Update") -> bytes:
    head = (f"From: {frm}\nTo: {to}\nSubject: {subject}\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
    return (head + body).replace("\n", "\r\n").encode("utf-8")


def _forward(author: str, body: str, style: str = "outlook") -> str:
    if style == "outlook":
        head = (f"-----Original Message-----\nFrom: {author}\nSent: Monday, 3 March 2025 10:14\n"
                f"To: Jane Smith <{SENDER}>\nSubject: my details\n\n")
    elif style == "gmail":
        head = (f"---------- Forwarded message ---------\nFrom: {author}\nDate: Mon, 3 Mar 2025 at 10:14\n"
                f"Subject: details\nTo: Jane Smith <{SENDER}>\n\n")
    elif style == "apple":
        head = f"Begin forwarded message:\n\nFrom: {author}\nDate: 3 March 2025 at 10:14\nSubject: details\n\n"
    else:
        head = f"On Mon, 3 Mar 2025 at 10:14, {author} wrote:\n"
        body = "\n".join("> " + line for line in body.splitlines())
    return "Please see below.\n\nJane\n\n" + head + body + "\n"


_SIG = "Kind regards,\nJane Smith\nFamily Court Adviser\nCafcass\nTel: 0300 456 4000\n"
_RECIPIENT_MAIL = ("Dear Jane,\n\nCould you confirm the time of the hearing?\n\nKind regards,\nNgozi Okafor\n"
                   f"Solicitor\n{HOME}\nMobile: 07700 900123\n")

# name -> message that must be assessed personal or above (not passed)
FIRE: dict[str, bytes] = {
    "from-display-name": _eml(f"Amelia Brown has moved to {HOME}.\n", frm=f'"Amelia Brown" <{SENDER}>'),
    "from-display-only": _eml("Please see the sender's details.\n",
                              frm=f'"Amelia Brown, {HOME}" <{SENDER}>'),
    "signature-extra-line": _eml(f"Please update your records.\n\n{_SIG.splitlines()[0]}\nJane Smith\n"
                                 f"Amelia Brown\n{HOME}\n"),
    "signature-not-sender": _eml(f"Please update your records.\n\nKind regards,\nAmelia Brown\n{HOME}\n"
                                 "07700 900123\n"),
    "signature-closing-block": _eml("Details for the file below.\n\nAmelia Brown\nPupil, Year 6\n"
                                    f"{HOME}\nT: 07700 900123\n"),
    "forwarded-outlook": _eml(_forward("Amelia Brown <amelia.brown2011@gmail.com>",
                                       f"Hi Jane,\n\nI have moved to {HOME}.\n\nThanks\nAmelia\n")),
    "forwarded-apple": _eml(_forward("Amelia Brown <amelia.brown2011@gmail.com>",
                                     f"My new address is {HOME}.\n", "apple")),
    "forwarded-wrote": _eml(_forward("Amelia Brown <amelia.brown2011@gmail.com>",
                                     f"I have moved to {HOME}.\n\nThanks\nAmelia Brown\n", "wrote")),
    "forwarded-gmail": _eml(_forward("Amelia Brown <amelia.brown2011@gmail.com>",
                                     f"Hello,\n\nPlease note I now live at {HOME}.\n", "gmail")),
    "forwarded-wrote-unsigned": _eml(_forward("Amelia Brown <amelia.brown2011@gmail.com>",
                                              f"I have moved to {HOME}.\n", "wrote")),
    "greeting-third-party": _eml(f"Hi Amelia,\n\nYour new address {HOME} is now on file.\n\n{_SIG}"),
    "greeting-two-names": _eml(f"Good morning Tom and Amelia Brown,\n\nYou now live at {HOME}.\n\n{_SIG}"),
    "greeting-display-mismatch": _eml(f"Dear Amelia Brown,\n\nWe hold {HOME} for you.\n\n{_SIG}",
                                      to=f'"Amelia Brown" <{EXTERNAL}>'),
    # section 7a: an organisation word as a label or patient context does not make a home an organisation's
    "nhs-patient": _eml(f"Amelia Brown (NHS patient) is at {HOME}.\n"),
    "nhs-number-label": _eml(f"Amelia Brown, NHS No. 943 476 5919, lives at {HOME}.\n"),
    "council-tenant": _eml("Tom Hughes (council tenant) is at 3 Elm Road, York YO1 7HH.\n"),
    "nhs-aside": _eml(f"Amelia Brown (NHS) is at {HOME}.\n"),
    "school-pupil": _eml(f"Amelia Brown, a Leeds School pupil, is at {HOME}.\n"),
}
# name -> message that must pass with sensitivity none
NEAR_MISS: dict[str, bytes] = {
    "reply-quotes-recipient": _eml(f"Dear Ngozi,\n\nThe hearing is at 10am.\n\n{_SIG}\n" + _forward(
        f"Ngozi Okafor <{EXTERNAL}>", _RECIPIENT_MAIL)),
    "reply-quotes-recipient-wrote": _eml(f"Thanks Ngozi, 10am.\n\n{_SIG}\n" + _forward(
        f"Ngozi Okafor <{EXTERNAL}>", _RECIPIENT_MAIL, "wrote")),
    "reply-outlook-no-address": _eml(f"Dear Ms Okafor,\n\nNoted.\n\n{_SIG}\n" + _forward(
        "Okafor, Ngozi", _RECIPIENT_MAIL), to=f'"Okafor, Ngozi" <{EXTERNAL}>'),
    "sender-own-signature": _eml("Dear Ngozi,\n\nThe report is attached.\n\nKind regards,\nJane Smith\n"
                                 "Family Court Adviser\nMobile: 07700 900456\n2 Station Road, Leeds LS1 4AB\n",
                                 to=f"Ngozi Okafor <{EXTERNAL}>"),
    "greeting-recipient": _eml(f"Dear Ngozi,\n\nThe meeting room is booked.\n\n{_SIG}",
                               to=f"Ngozi Okafor <{EXTERNAL}>"),
    "initial-mailbox": _eml("Hi Jo,\n\nSee you at 10.\n\nJo Bloggs\nSenior Adviser\nMobile: 07700 900777\n",
                            frm="Jo Bloggs <jbloggs@cafcass.gov.uk>"),
    "special-category-display-name": _eml("Thanks for the room booking.\n",
                                          to=f'"Leeds Domestic Abuse Service" <{EXTERNAL}>'),
    "forward-colleague": _eml("Ngozi, see my colleague's note below.\n\nJane\n\n" + _forward(
        "Priya Patel <priya.patel@cafcass.gov.uk>", "Jane, the room is booked for 10am.\n\nKind regards,\n"
        "Priya Patel\nBusiness Support Officer\nCafcass\nMobile: 07700 900888\nTel: 0300 456 4000\n")),
    "greeting-sir-madam": _eml("Dear Sir/Madam,\n\nThe training is held at Northgate House, 3 Elm Road, York "
                               f"YO1 7HH.\n\n{_SIG}"),
    "nhs-premises": _eml(f"The clinic is at Leeds NHS Trust, {HOME}.\n"),
    "council-office": _eml("Please come to the Council offices, 3 Elm Road, York YO1 7HH.\n"),
}


def _scan(files: list[Path]) -> dict[str, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "scan", "--json", "--reveal", "--config", str(REPO / "config"),
         *map(str, files)],
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


def _brief(rec: dict[str, Any]) -> tuple[str, str, list[tuple[str, list[str]]]]:
    return rec["decision"], rec["sensitivity"], [(f["entity"], f.get("texts", [])) for f in rec["findings"]]


def test_exemptions_follow_the_correspondents(tmp_path: Path) -> None:
    """Third parties' details in steerable places are found; the correspondents' own details still pass."""
    personal_to_special = _eml("Tom Hughes now lives at 3 Elm Road, York YO1 7HH.\n",
                               to=f'"Mental Health and Domestic Abuse Service" <{EXTERNAL}>')
    records = _scan(_write(tmp_path, {**FIRE, **NEAR_MISS, "display-topic": personal_to_special}))
    problems = [(name, *_brief(records[name])) for name in FIRE
                if records[name]["decision"] == "pass" or records[name]["sensitivity"] == "none"]
    problems += [(name, *_brief(records[name])) for name in NEAR_MISS
                 if records[name]["decision"] != "pass" or records[name]["sensitivity"] != "none"]
    assert problems == []
    # a special-category word in a recipient's display name is furniture: personal stays personal
    assert records["display-topic"]["sensitivity"] == "personal", _brief(records["display-topic"])
    # the name in the From display name is found there, not only in the body
    located = {loc for f in records["from-display-only"]["findings"] for loc in f["locations"]}
    assert "header:From" in located
