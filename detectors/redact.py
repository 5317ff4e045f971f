"""Masked forms of matched values, safe for incident records, digests and logs.

Each form keeps just enough for a reviewer to recognise the item in the message they already hold
(``NHS *** *** 5919``, ``J*** S****``, ``ZW** *****23``, ``B4/****/**34``), never enough to rebuild it.
"""

from __future__ import annotations

import re

_ALNUM = re.compile(r"[0-9A-Za-z]")
DIGITAL_CASE_MASK = "****-****-****-"


def _digits(text: str) -> str:
    return "".join(str(int(c)) for c in text if c.isdigit() and c.isdecimal())


def _alnum(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def _mask_keep_last(text: str, keep: int) -> str:
    """Every letter and digit but the last ``keep`` becomes ``*``; separators stay."""
    total = sum(1 for c in text if c.isalnum())
    out = []
    seen = 0
    for c in text:
        if c.isalnum():
            seen += 1
            out.append(c if seen > total - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def _mask_keep_ends(text: str, head: int, tail: int) -> str:
    """Every letter and digit but the first ``head`` and last ``tail`` becomes ``*``; separators stay."""
    total = sum(1 for c in text if c.isalnum())
    out = []
    seen = 0
    for c in text:
        if c.isalnum():
            seen += 1
            out.append(c if seen <= head or seen > total - tail else "*")
        else:
            out.append(c)
    return "".join(out)


def case_number_system(masked: str) -> str:
    """The numbering system a masked family case number belongs to: the family court's digital (CCD) number,
    or a court-issued one (FamilyMan, local). The masked form keeps the system visible on purpose."""
    return "digital" if masked.startswith(DIGITAL_CASE_MASK) else "court"


def _name(text: str) -> str:
    words = text.split()
    return " ".join(w[0] + "*" * max(len(w) - 1, 1) if w else w for w in words)


def redact(entity: str, text: str) -> str:
    """The masked form of ``text`` found as ``entity``."""
    text = " ".join(text.split())
    if not text:
        return ""
    if entity == "UK_NHS":
        d = _digits(text)
        return f"NHS *** *** {d[-4:]}" if len(d) >= 4 else "NHS ***"
    if entity == "PERSON":
        return _name(text)
    if entity == "UK_FAMILY_CASE_NUMBER":
        a = _alnum(text).upper()
        if len(a) == 16 and a.isdigit():
            return f"{DIGITAL_CASE_MASK}{a[-4:]}"
        return f"{a[:2]}** *****{a[-2:]}" if len(a) >= 6 else "**********"
    if entity == "UK_COURT_CASE_NUMBER":
        a = _alnum(text).upper()
        return _mask_keep_ends(text, 2, 2) if len(a) >= 6 else "********"
    if entity == "AGE":
        return "[age]"
    if entity == "UK_NINO":
        a = _alnum(text).upper()
        return f"** ** ** *{a[-2:-1]} {a[-1:]}" if len(a) >= 3 else "*********"
    if entity == "PHONE_NUMBER":
        return _mask_keep_last(text, 3)
    if entity == "EMAIL_ADDRESS":
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}" if domain else "***"
    if entity == "DATE_OF_BIRTH":
        years = re.findall(r"(?:19|20)\d{2}", text)
        return f"**/**/{years[-1]}" if years else "**/**/****"
    if entity == "UK_POSTCODE":
        a = _alnum(text).upper()
        return f"{a[:-3]} ***" if len(a) > 3 else "*** ***"
    if entity == "UK_STREET_ADDRESS":
        m = re.search(r"([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*\d[A-Za-z]{2}\s*$", text)
        return f"[address] {m.group(1).upper()} ***" if m else "[address]"
    if entity == "UK_BANK_ACCOUNT":
        d = _digits(text)
        return f"**-**-** ****{d[-4:]}" if len(d) >= 10 else "**-**-** ********"
    if entity in ("CREDIT_CARD", "IBAN_CODE", "UK_PASSPORT", "UK_DRIVING_LICENCE"):
        prefix = text[:2].upper() if entity == "IBAN_CODE" else ""
        masked = _mask_keep_last(text, 4 if entity != "UK_PASSPORT" else 2)
        return prefix + masked[len(prefix):] if prefix else masked
    if entity == "PROTECTIVE_MARKING":
        return re.sub(r"[\s_:–-]+", "-", text.upper()).strip("-")
    if entity == "SPECIAL_CATEGORY":
        return text.lower()
    return _ALNUM.sub("*", text)
