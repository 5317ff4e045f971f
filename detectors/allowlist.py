"""Values that are never findings: the organisation's own phone numbers, addresses and names, and its domains.

Phone numbers compare by national number whatever their format (``0300 456 4000`` = ``+44 300 4564000``); other
values compare as word sequences inside a listed phrase; an email address at an organisation domain (or a
subdomain) is always allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import phonenumbers

from detectors.settings import DetectorsSettings
from gateway.config_errors import ConfigError, ConfigProblem, read_list_file


def _phrase(text: str) -> str:
    return " " + " ".join(re.findall(r"[0-9a-z]+", text.lower())) + " "


def _phone_key(text: str) -> str:
    digits = "".join(c for c in text if c.isdigit())
    try:
        number = phonenumbers.parse(text if text.strip().startswith("+") else digits, "GB")
        return str(number.national_number)
    except phonenumbers.NumberParseException:
        return digits.lstrip("0")


class AllowList:
    """Values that are never findings: the organisation's own details, and per message the sender's."""

    def __init__(self, values: Iterable[str], org_domains: Iterable[str] = ()) -> None:
        self.phones: set[str] = set()
        self.phrases: list[str] = []
        for v in values:
            digits = sum(c.isdigit() for c in v)
            if digits >= 7 and digits >= 0.6 * sum(c.isalnum() for c in v):
                self.phones.add(_phone_key(v))
            phrase = _phrase(v)
            if phrase.strip():
                self.phrases.append(phrase)
        self.org_domains = tuple(d.lower().strip(".") for d in org_domains)

    @classmethod
    def from_settings(cls, settings: DetectorsSettings, path: Path, org_domains: Iterable[str] = ()) -> AllowList:
        """The inline values and list files of ``allow_list`` (files relative to ``path``'s folder)."""
        values: list[str] = list(settings.allow_list.values)
        for i, rel in enumerate(settings.allow_list.files):
            p = Path(rel)
            full = p if p.is_absolute() else path.parent / p
            try:
                values.extend(read_list_file(full))
            except ConfigError as exc:
                raise ConfigError(
                    [ConfigProblem(str(path), f"allow_list.files.{i}", f"{e.expected}: {full}") for e in exc.problems]
                ) from None
        return cls([v for v in values if v], org_domains)

    def allows(self, entity: str, text: str) -> bool:
        if entity == "PHONE_NUMBER" and _phone_key(text) in self.phones:
            return True
        if entity == "EMAIL_ADDRESS":
            domain = text.rpartition("@")[2].lower()
            if any(domain == d or domain.endswith("." + d) for d in self.org_domains):
                return True
        phrase = _phrase(text)
        if len(phrase.strip()) < 3:
            return False
        return any(phrase in p for p in self.phrases)
