"""Recipient classes: who a message is going to, as the policy sees it.

The classes (most specific first) are ``internal``, ``personal``, ``lookalike``, ``storage_or_ai``,
``freemail``, ``external``. ``personal`` means the *sender's own* personal mailbox (IA 4.3), which is why it
is derived from the sender's name rather than from the domain: ``jane.smith@`` sending to
``janesmith84@gmail.com`` or ``j.smith.home@btinternet.com`` is sending to herself, while her family's
``tom.smith@gmail.com`` is just freemail. A directory file of known personal addresses per staff member covers
the addresses no name rule can (``sunflower77@...``).

Only types of evidence are recorded, never the addresses themselves, so evidence can go into incidents.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from detectors.findings import RecipientClass, RecipientInfo
from detectors.lookalike import LookalikeDetector, LookalikeParams, to_ascii, under
from detectors.routing import route_of


@dataclass(frozen=True)
class RecipientLists:
    """The list files the classifier looks things up in, loaded by whoever reads the policy (ASCII domains)."""

    freemail: frozenset[str] = frozenset()
    """Freemail and ISP domains (subdomains match)."""
    storage_or_ai: frozenset[str] = frozenset()
    """Upload addresses of storage and AI services: full addresses, or domains (subdomains match)."""
    partner_domains: frozenset[str] = frozenset()
    """Trusted partners: external, but protected from lookalikes."""
    personal_directory: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Staff address -> that person's known personal addresses."""


_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "cllr"})
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")


def split_address(address: str) -> tuple[str, str]:
    """``(local, ascii_domain)``; tolerant of angle brackets, quotes and a trailing dot."""
    a = address.strip().strip("<>").strip()
    local, at, domain = a.rpartition("@")
    if not at:
        return a.lower(), ""
    return local.strip('"').lower(), to_ascii(domain)


def _fold(text: str) -> str:
    """Lower case ASCII letters only: ``Siân O'Brien-Jones`` -> ``sian obrien-jones``."""
    s = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    s = s.replace("'", "").replace("\u2019", "")
    return s.lower()


def _name_tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^a-z-]+", _fold(text)) if t.strip("-") and t not in _TITLES]


def _expand(first: str, last: str) -> set[tuple[str, str]]:
    """Double-barrelled names: ``smith-jones`` -> smithjones, smith, jones."""
    firsts = {first.replace("-", "")} | {p for p in first.split("-") if p}
    lasts = {last.replace("-", "")} | {p for p in last.split("-") if p}
    return {(f, la) for f in firsts for la in lasts if f and len(la) >= 2}


def sender_name_pairs(mail_from: str, sender_name: str) -> set[tuple[str, str]]:
    """(first, last) pairs from the envelope local part (``jane.smith``) and the From display name
    (``Jane Smith``, ``SMITH, Jane``, ``Jane Smith (Cafcass)``)."""
    pairs: set[tuple[str, str]] = set()
    local, _ = split_address(mail_from)
    local = local.split("+", 1)[0]
    parts = [t for t in re.split(r"[^a-z]+", _fold(local)) if t]
    if len(parts) >= 2:
        pairs |= _expand(parts[0], parts[-1])
    name = _BRACKETED.sub(" ", sender_name or "")
    if "@" in name:
        name = ""
    if "," in name:
        last_part, _, first_part = name.partition(",")
        lt, ft = _name_tokens(last_part), _name_tokens(first_part)
        if lt and ft:
            pairs |= _expand(ft[0], lt[-1])
    else:
        tokens = _name_tokens(name)
        if len(tokens) >= 2:
            pairs |= _expand(tokens[0], tokens[-1])
    return pairs


def local_part_is_senders(local: str, pairs: Iterable[tuple[str, str]]) -> bool:
    """Does a mailbox name look like the sender's own? Full name in either order, with anything around it
    (``janesmith84``, ``smith.jane.home``, ``janeasmith``); or the initial and surname as a separate word
    (``j.smith.home``, ``jsmith``, ``smithj``). The surname alone is not enough: family members share it."""
    tokens = [t for t in re.split(r"[^a-z]+", _fold(local.split("+", 1)[0])) if t]
    joined = "".join(tokens)
    for first, last in pairs:
        if len(first) >= 2:
            if first + last in joined or last + first in joined:
                return True
            if re.search(rf"{re.escape(first)}[a-z]{re.escape(last)}", joined):
                return True
        initial = first[0]
        for i, tok in enumerate(tokens):
            if tok in (initial + last, last + initial):
                return True
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if (tok, nxt) in ((initial, last), (last, initial)):
                return True
    return False


def _in_domains(domain: str, domains: frozenset[str]) -> bool:
    labels = domain.split(".")
    return any(".".join(labels[i:]) in domains for i in range(len(labels)))


class RecipientClassifier:
    """Built once per worker (lists, lookalike skeletons); ``classify`` is then cheap per message."""

    def __init__(
        self,
        organisation_domains: Sequence[str],
        lists: RecipientLists,
        lookalike: LookalikeDetector | None,
    ) -> None:
        self.organisation = tuple(to_ascii(d) for d in organisation_domains)
        self.lists = lists
        self.lookalike = lookalike

    @classmethod
    def build(
        cls, organisation_domains: Sequence[str], lists: RecipientLists, lookalike: LookalikeParams | None
    ) -> RecipientClassifier:
        """The classifier for these domains and lists; ``lookalike`` None turns lookalike checks off."""
        detector = (
            LookalikeDetector(
                organisation=list(organisation_domains),
                partners=sorted(lists.partner_domains),
                params=lookalike,
            )
            if lookalike is not None
            else None
        )
        return cls(organisation_domains, lists, detector)

    def is_internal(self, address: str) -> bool:
        """An organisation domain or one of its subdomains, and no route in the local part (``detectors.routing``:
        ``user%evil.com@org`` is delivered to evil.com by a hop that honours the percent hack)."""
        _, domain = split_address(address)
        return bool(domain) and any(under(domain, d) for d in self.organisation) and route_of(address) is None

    def classify(self, mail_from: str, sender_name: str, rcpt_tos: Sequence[str]) -> tuple[RecipientInfo, ...]:
        pairs = sender_name_pairs(mail_from, sender_name)
        sender_local, sender_domain = split_address(mail_from)
        known_personal = self.lists.personal_directory.get(f"{sender_local}@{sender_domain}", frozenset())
        return tuple(self._one(addr, pairs, known_personal) for addr in rcpt_tos)

    def _one(self, address: str, pairs: set[tuple[str, str]], known_personal: frozenset[str]) -> RecipientInfo:
        def info(cls: RecipientClass, evidence: str) -> RecipientInfo:
            return RecipientInfo(address=address, cls=cls, evidence=evidence)

        route = route_of(address)
        if route is not None:
            # Judged by where a hop that honours the route would deliver, and never internal (defence in depth:
            # the SMTP edge refuses these at RCPT, ``dlpgate scan`` reads them from headers or --rcpt).
            routed = self._one(route.destination, pairs, known_personal)
            label = f"{route.kind} routing address"
            if routed.cls == "internal":
                return info("external", label)
            return info(routed.cls, f"{label}; {routed.evidence}" if routed.evidence else label)
        local, domain = split_address(address)
        if self.is_internal(address):
            return info("internal", "organisation domain")
        if f"{local}@{domain}" in known_personal:
            return info("personal", "listed as the sender's personal address")
        freemail = bool(domain) and _in_domains(domain, self.lists.freemail)
        if freemail and local_part_is_senders(local, pairs):
            return info("personal", "sender's own name at a freemail or ISP domain")
        storage = f"{local}@{domain}" in self.lists.storage_or_ai or (
            bool(domain) and _in_domains(domain, self.lists.storage_or_ai)
        )
        # A domain we list as a real service is not a lookalike of anything.
        if domain and self.lookalike is not None and not (freemail or storage):
            evidence = self.lookalike.check(domain)
            if evidence:
                return info("lookalike", evidence)
        if storage:
            return info("storage_or_ai", "upload address of a storage or AI service")
        if freemail:
            return info("freemail", "freemail or ISP domain")
        return info("external", "")
