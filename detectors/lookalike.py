"""Lookalike domains: a typo, a homoglyph, or a label trick away from a domain we trust.

Lists of known lookalikes go stale the day they are written; attackers and typos generate new ones. So this
module derives them from principles instead:

* **skeleton**: every domain is reduced to a confusables skeleton (Unicode NFKC, Cyrillic/Greek letters that
  look Latin, accents stripped, ``rn``/``vv``/``0``/``1`` tricks), so IDN homoglyphs (``cafcаss`` with a
  Cyrillic ``а``, ``xn--...``) compare equal to what they imitate;
* **typo**: Damerau-Levenshtein distance between skeletons (one slip for short names, two for long ones),
  measured against every tail of the recipient domain so ``mail.cafcas.gov.uk`` is caught too;
* **label tricks**: the same characters with dots and hyphens moved (``cafcass-gov.uk``), or the trusted
  labels with labels added in between or after (``cafcass.gov.co.uk``, ``cafcass.gov.uk.example.net``);
* **name elsewhere** (organisation domains only): the organisation's registrable name used as a label or a
  hyphenated part under someone else's domain (``cafcass.co.uk``, ``cafcass-secure.com``).

Partner domains get the first three checks but not the last: partners often have generic names (``justice``)
that legitimately appear in other organisations' domains.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import tldextract

_DOTS = re.compile("[\u002e\u3002\uff0e\uff61]")

# Letters from other scripts that render like Latin letters (subset of Unicode TR39 confusables that can
# appear in IDN domain labels), plus symbols. Accented Latin letters are handled by NFKD below.
_CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "с": "c",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "һ": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "г": "r",
    "ѕ": "s",
    "т": "t",
    "у": "y",
    "ү": "y",
    "ԝ": "w",
    "х": "x",
    "ь": "b",
    "п": "n",
    "ɡ": "g",
    "ı": "i",
    "ɩ": "i",
    "ℓ": "l",
    # Greek
    "α": "a",
    "β": "b",
    "ϲ": "c",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "γ": "y",
    "μ": "u",
    "ϳ": "j",
    # Armenian / others commonly abused
    "օ": "o",
    "ս": "u",
    "զ": "q",
    "ց": "g",
    "հ": "h",
    "ո": "n",
    "ե": "e",
    # Digits and ASCII look-alikes (TR39 maps 0->o, 1/I/|->l)
    "0": "o",
    "1": "l",
    "|": "l",
    "!": "l",
}
_MULTI = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def to_unicode(domain: str) -> str:
    """Lower-case Unicode form: ``xn--`` labels decoded, Unicode dots unified, trailing dot dropped."""
    domain = _DOTS.sub(".", domain.strip().rstrip(".").rstrip("\u3002\uff0e\uff61")).lower()
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except (UnicodeError, ValueError):
                pass
        labels.append(label)
    return ".".join(labels)


def to_ascii(domain: str) -> str:
    """Lower-case ASCII (punycode) form used for list look-ups; unchanged if it cannot be encoded."""
    d = _DOTS.sub(".", domain.strip().rstrip(".")).lower()
    if d.isascii():
        return d
    try:
        return d.encode("idna").decode("ascii").lower()
    except (UnicodeError, ValueError):
        return d


def skeleton(text: str) -> str:
    """Confusables skeleton: two strings that look the same on screen have the same skeleton."""
    s = unicodedata.normalize("NFKC", text).casefold()
    s = "".join(_CONFUSABLES.get(ch, ch) for ch in s)
    s = "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))
    s = "".join(_CONFUSABLES.get(ch, ch) for ch in s)
    for seq, rep in _MULTI:
        s = s.replace(seq, rep)
    return s


def _collapse(s: str) -> str:
    return re.sub(r"[.\-_]", "", s)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment); returns ``limit + 1`` as soon as it is exceeded."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[len(b)], limit + 1)


def is_subsequence(needle: Sequence[str], hay: Sequence[str]) -> bool:
    it = iter(hay)
    return all(any(n == h for h in it) for n in needle)


def under(domain: str, parent: str) -> bool:
    """``domain`` is ``parent`` or one of its subdomains."""
    return domain == parent or domain.endswith("." + parent)


_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
"""Public Suffix List from the snapshot bundled with tldextract: no network at run time."""


def registrable_name(domain: str) -> str:
    """The label registered under a public suffix: ``cafcass`` for ``mail.cafcass.gov.uk``."""
    return _EXTRACT(to_ascii(domain)).domain


def is_public_suffix(domain: str) -> bool:
    """``gov.uk`` or ``police.uk``: listing one would trust everyone under it."""
    r = _EXTRACT(to_ascii(domain))
    return not r.domain and bool(r.suffix)


@dataclass(frozen=True, slots=True)
class LookalikeParams:
    max_edit_distance: int = 1
    long_name_length: int = 9
    long_name_max_edit_distance: int = 2
    min_name_length: int = 4
    name_elsewhere: bool = True


@dataclass(frozen=True, slots=True)
class _Protected:
    domain: str
    kind: str  # "organisation" or "partner"
    skel: str
    labels: tuple[str, ...]
    collapsed: str
    name: str
    name_skel: str
    max_distance: int


@dataclass
class LookalikeDetector:
    """Built once per worker from the organisation and partner domains; ``check`` is cheap and cached."""

    organisation: Sequence[str]
    partners: Sequence[str] = ()
    params: LookalikeParams = field(default_factory=LookalikeParams)
    _protected: list[_Protected] = field(init=False, default_factory=list)
    _cache: dict[str, str | None] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for kind, domains in (("organisation", self.organisation), ("partner", self.partners)):
            for raw in domains:
                d = to_unicode(raw)
                if not d or d in seen or is_public_suffix(d):
                    continue
                seen.add(d)
                name = registrable_name(d) or d.split(".")[0]
                name_u = to_unicode(name)
                p = self.params
                if len(name_u) < p.min_name_length:
                    dist = 0
                elif len(name_u) >= p.long_name_length:
                    dist = p.long_name_max_edit_distance
                else:
                    dist = p.max_edit_distance
                sk = skeleton(d)
                self._protected.append(
                    _Protected(
                        domain=d,
                        kind=kind,
                        skel=sk,
                        labels=tuple(sk.split(".")),
                        collapsed=_collapse(sk),
                        name=name_u,
                        name_skel=skeleton(name_u),
                        max_distance=dist,
                    )
                )

    def check(self, domain: str) -> str | None:
        """Evidence (``lookalike of ... (edit distance 1)``) when ``domain`` imitates a trusted one."""
        d = to_unicode(domain)
        if d in self._cache:
            return self._cache[d]
        result = self._check(d)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[d] = result
        return result

    def _check(self, d: str) -> str | None:
        if not d or "." not in d:
            return None
        # A recipient under any trusted domain is that domain, not a lookalike of another.
        if any(under(d, p.domain) for p in self._protected):
            return None
        sk = skeleton(d)
        labels = tuple(sk.split("."))
        tails = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        hyphen_parts = {part for label in labels for part in label.split("-") if part}
        for p in self._protected:
            what = f"lookalike of {p.kind} domain {p.domain}"
            for tail in tails:
                if tail == p.skel:
                    return f"{what} (homoglyph)"
                if p.max_distance and abs(len(tail) - len(p.skel)) <= p.max_distance:
                    dist = edit_distance(tail, p.skel, p.max_distance)
                    if dist <= p.max_distance:
                        return f"{what} (edit distance {dist})"
                if _collapse(tail) == p.collapsed:
                    return f"{what} (dots or hyphens moved)"
            if len(labels) > len(p.labels) and is_subsequence(p.labels, labels):
                return f"{what} (labels added)"
            if (
                self.params.name_elsewhere
                and p.kind == "organisation"
                and len(p.name) >= self.params.min_name_length
                and (p.name_skel in labels or p.name_skel in hyphen_parts)
            ):
                return f"{what} (its name under another domain)"
        return None


def check_domains(domains: Iterable[str]) -> list[str]:
    """Entries that do not look like domain names (for config validation)."""
    bad = []
    for d in domains:
        a = to_ascii(d)
        if not re.fullmatch(r"(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}", a):
            bad.append(d)
    return bad
