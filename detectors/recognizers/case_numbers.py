"""Court and tribunal case numbers: family proceedings (``UK_FAMILY_CASE_NUMBER``) and every other court
(``UK_COURT_CASE_NUMBER``).

Formats, from published judgments' title pages (BAILII, Find Case Law), HMCTS guidance and HMCTS code:

==========================  ==========================================  ===========  ==========
format                      example                                     entity       evidence
==========================  ==========================================  ===========  ==========
FamilyMan                   ``ZW24C50123``, ``FD21P00683`` (Hague)      family       strong
FamilyMan, 4-digit serial   ``ZW20P0119`` (older)                       family       context
local family court          ``LS123/21``, ``MA456/2021``                family       context
family digital (CCD)        ``1659-5436-7859-8849``                     family       checksum
CE-File, Family Division    ``FD-2024-001234``                          family       strong
High Court QB/Ch (old)      ``HQ17P03347`` (FamilyMan's shape)          court        strong
Court of Appeal (Civil)     ``B4/2021/1234``, ``B4.2021.1234(A)``       court        strong
CE-File (any list)          ``QB-2019-000987``, ``CA-2022-001378``,     court        strong /
                            ``AC-2023-LON-003465``, ``UA-2021-000019-T``             context
Court of Appeal (Criminal)  ``2021/01379/B1``                           court        strong
Administrative Court        ``CO/1234/2021``                            court        strong
tribunals, old appeals      ``EA/2023/0132``, ``HU/12345/2019``,        court        context
                            ``UKEAT/0238/20/OO``
county court claims         ``F12YX345``, ``G10CL052``, ``9BM30477``    court        context
online money claims         ``123MC456``                                court        context
Crown Court                 ``T20200493``                               court        context
employment tribunal         ``2401234/2021``                            court        context
Commercial Court folio      ``2009 Folio 462``                          court        context
anything after a label      ``Case No: 13258625``, ``COP 12345678``,    court or     label
                            ``Claim No. 18/72``                         family
==========================  ==========================================  ===========  ==========

Text copied from PDFs may carry a space after a hyphen (``QB- 2017- 001637``); CE-File numbers allow it.

Evidence: *strong* shapes are matched alone. *Context* shapes need a legal word near them (court, claim,
tribunal, judge, hearing, proceedings, a party's role ...): the same letters and digits are also product,
invoice and FOI references. *Checksum*: HMCTS's CCD case references are eleven digits of issue time, four
random digits and a Luhn check digit, so a dashed 16-digit number counts when the check digit and the time
both hold. *Label*: any reference right after a case label ("Case No", "Claim number", "Appeal No", "Court
ref", "COP", "ICACU ref", "our ref" ...); a generic label ("Case No", "Claim No", "our ref", which support desks,
insurers and suppliers use too) also needs a word of court business near it (court, tribunal, judge, hearing,
proceedings, a party's role), a court's own label does not. Information-rights requests and service-desk
tickets (``FOI/2021/0123``, ``INC0012345``) are never case numbers.

Family or not: family proceedings numbers (children, divorce, the Family Division, international child
abduction, which the Family Division hears under FamilyMan numbers) are children's case data; every other
court's reference is a strong identifier of a case and its parties but not children's data. Court of
Protection numbers are court numbers: its cases are about adults' capacity (their health is a special-category
topic of its own), not family proceedings. An appeal, claim or CE-File number that sits beside the family number
of the same matter is therefore never a second *family* case (IA 4.14).
"""

from __future__ import annotations

import datetime as dt
import re

from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.patterns import ci, ci_chars
from detectors.recognizers.text import result

FAMILY = "UK_FAMILY_CASE_NUMBER"
COURT = "UK_COURT_CASE_NUMBER"

# One alternation, one pass over the text; any case (a reader sees "zw24c50123" as the same number, and the
# shapes are specific enough that lower case adds no false alarms). Each group is a format in the table above.
# Case is spelt out in the classes rather than with re.IGNORECASE (``_AZ`` is what ``[A-Z]`` matches under that
# flag; ``ci`` does the same for words), and a leading lookahead names every first character: the same matches,
# found without lower-casing every character tried (tests/unit/test_case_numbers.py checks both).
_AZ = "A-Za-z\u0130\u0131\u017f\u212a"
_SHAPES = re.compile(
    rf"""
    (?=[{_AZ}\d])(?<![\w/.\-])
    (?:
      (?P<familyman>(?P<fm_court>[{_AZ}]{{2}})[ ]?\d{{2}}[ ]?[{_AZ}][ ]?\d{{5}})
    | (?P<familyman4>[{_AZ}]{{2}}\d{{2}}[{_AZ}]\d{{4}})
    | (?P<local>[{_AZ}]{{2}}\d{{1,5}}/(?:19|20)?\d{{2}})
    | (?P<coa>[{ci_chars("abc")}]\d[ ]?(?P<coa_sep>[/.])[ ]?(?:19|20)\d{{2}}[ ]?(?P=coa_sep)[ ]?\d{{3,5}}
              (?:[ ]?\([{_AZ}]\)|/[{_AZ}](?![\w/]))?)
    | (?P<cacd>(?:19|20)\d{{2}}/?\d{{5}}/?[ ]?[{ci_chars("abc")}]\d)
    | (?P<cefile>(?P<cf_list>[{_AZ}]{{2}})-[ ]?(?:19|20)\d{{2}}-[ ]?(?P<cf_region>[{_AZ}]{{3}}-[ ]?)?\d{{5,6}}
                 (?:-[{_AZ}]{{1,2}})?)
    | (?P<admin>{ci("c")}[{ci_chars("o")}0][ ]?/[ ]?\d{{1,5}}[ ]?/[ ]?(?:19|20)?\d{{2}})
    | (?P<slash>[{_AZ}]{{2,5}}/(?:\d{{1,5}}/(?:19|20)\d{{2}}|(?:19|20)\d{{2}}/\d{{3,5}}|\d{{2}}/\d{{3,4}}
                                  |\d{{4}}/\d{{2}})
                (?:/[{_AZ}]{{1,3}})?)
    | (?P<county>[{_AZ}]\d{{2}}[{_AZ}]{{2}}\d{{3}}|\d[{_AZ}]{{2}}\d{{5}})
    | (?P<ocmc>\d{{3}}{ci("mc")}\d{{3}})
    | (?P<crown>[{ci_chars("tsa")}](?:19|20)\d{{6}})
    | (?P<et>\d{{7}}/(?:19|20)\d{{2}})
    | (?P<folio>(?:19|20)\d{{2}}[ ]{ci("folio")}[ ]\d{{1,5}})
    | (?P<ccd>1\d{{3}}-\d{{4}}-\d{{4}}-\d{{4}})
    )
    (?![\w]|[/\-]\w)
    """,
    re.VERBOSE,
)
# FamilyMan's shape also carries the High Court's older Queen's Bench and Chancery numbers.
_NON_FAMILY_COURT_CODES = frozenset({"HQ", "HC"})
# CE-File prefixes that only courts use (King's/Queen's Bench, Chancery, Court of Appeal, Administrative Court,
# Upper Tribunal, Employment Appeal Tribunal, Family Division). The lists of the Business and Property Courts
# (BL, CL, CR, IL, IP, PT, HT ...) share their letters with bills of lading, change requests and the like, so
# those need a legal word near them, as any other two-letter prefix does.
_CE_FILE_LISTS = frozenset({"QB", "KB", "HQ", "HC", "CH", "CA", "AC", "UA", "UI", "EA", "FD", "FA"})
# Information-rights requests and service-desk tickets come in court-like shapes ("FOI/2021/0123") and next to
# "appeal" and "tribunal" in their standard wording; they are not court references.
_NOT_COURT_PREFIX = re.compile(r"(?i:foi|foia|eir|sar|dsar|inc|chg|req|ritm)\b")
_STRONG = frozenset({"familyman", "coa", "cacd", "admin", "ccd"})
# Every shape has a digit within its first seven characters and ends at most four characters after its last
# digit, and its digit runs are never more than eight characters apart. So the shapes are looked for only in
# windows around the digit runs of a text: the same matches, found without walking long runs of prose.
# Digit runs whose windows touch (the gap between them at most _WINDOW_BEFORE + _WINDOW_AFTER) are found as one
# cluster by the pattern itself, so each window is one match, not a merge done run by run in Python.
_WINDOW_BEFORE = 8
_WINDOW_AFTER = 24
_DIGIT_CLUSTER = re.compile(rf"\d+(?:\D{{1,{_WINDOW_BEFORE + _WINDOW_AFTER}}}\d+)*")


def shape_matches(text: str) -> list[re.Match[str]]:
    """``_SHAPES.finditer(text)``, looked for only near digits."""
    out: list[re.Match[str]] = []
    n = len(text)
    for cluster in _DIGIT_CLUSTER.finditer(text):
        start, end = max(0, cluster.start() - _WINDOW_BEFORE), min(cluster.end() + _WINDOW_AFTER, n)
        out.extend(_SHAPES.finditer(text, start, end))
    return out


_FAMILY_SHAPES = frozenset({"familyman", "familyman4", "local", "ccd"})

# Labels. ``court`` labels name a court's reference; ``generic`` ones are also used by support desks, insurers
# and suppliers ("case number", "claim number", "our ref") and need a legal word nearby; ``family`` labels name
# a family court's system.
# The leading lookahead lists the first letter of every alternative below: it lets the scan skip most positions
# without entering the alternation (twice as fast on mail; tests/unit/test_case_numbers.py checks it stays true).
# Words are spelt case-insensitively with ``ci`` instead of re.IGNORECASE (the same matches, faster again).
_NO = rf"(?:{ci('no')}|{ci('number')}|{ci('ref')}(?:{ci('erence')})?)"
_REFS = (rf"(?:{ci('no')}|{ci('nos')}|{ci('number')}|{ci('numbers')}|{ci('ref')}|{ci('refs')}|{ci('reference')}"
         rf"|{ci('id')}){ci('s')}?\b")
_CASE = ci("case")
_LABEL = re.compile(
    rf"""
    (?=[{ci_chars("acfhimopty")}])(?<![\w])
    (?:
      (?P<family>{ci("family")}\s*{ci("man")}(?:\s+{_CASE})?\s*{_NO}?
                |{ci("family")}\s+{ci("court")}\s+(?:{_CASE}\s+)?{_NO}
                |{ci("icacu")}\s+(?:{ci("ref")}(?:{ci("erence")})?|{ci("no")}|{ci("number")})
                |{ci("ccd")}\s+(?:{_CASE}\s+)?(?:{ci("no")}|{ci("number")}|{ci("ref")}(?:{ci("erence")})?|{ci("id")}))
    | (?P<court>(?:{ci("appeal")}|{ci("court")}|{ci("tribunal")}|{ci("cop")}|{ci("hmcts")}|{ci("ce")}-?{ci("file")})
                \s*(?:{_CASE}\s*)?{_REFS}
                |{ci("court")}\s+{ci("of")}\s+{ci("protection")}\s+(?:{_CASE}\s+)?{_NO}|{ci("cop")}\b
                |{ci("appeal")}\s*:)
    | (?P<generic>(?:{_CASE}|{ci("claim")}|{ci("matter")}|{ci("application")}|{ci("proceedings")}|{ci("action")}
                  |{ci("petition")})\s*{_REFS}
                |{_CASE}\s*:|{ci("claim")}\s*:
                |(?:{ci("our")}|{ci("your")}|{ci("my")}|{ci("their")})\s+{ci("ref")}(?:{ci("erence")})?(?:\s+{ci("no")})?\b)
    )
    [\s.:\#\-]{{0,6}}
    """,
    re.VERBOSE,
)
# A reference after a label: letters, digits and separators with at least three digits, or a folio number.
_TOKEN = re.compile(
    r"(?:(?:19|20)\d{2}[ ]Folio[ ]\d{1,5}|[A-Z]{2,5}[ ]\d{5,}|[A-Za-z]{0,6}[/\-]?\d[\w/.\-]*(?:[ ]?\([A-Z]\))?)"
    r"(?<![.\-/])"
)
_LIST_SEP = re.compile(r"\s*(?:,|;|&|\band\b|\n)\s*|\s+")
# Dates, a year alone, and phone numbers are not references even after a label.
_NOT_A_REFERENCE = re.compile(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|(?:19|20)\d{2}|0\d{9,10}|\+\d{10,}")
# Words of court business. Not "claim" (insurance, expenses), "solicitor" (conveyancing, signatures), "hearing
# from you", "data protection", or the organisation's own name, which every signature carries.
# (case spelt out with ``ci`` and the first letters in a lookahead, as for _LABEL: the same matches, faster)
_LEGAL_WORDS = (
    "appeal", "appeals", "court", "courts", "tribunal", "tribunals", "judge", "judges", "judgment", "judgments",
    "judgement", "judgements",
)
_LEGAL = re.compile(
    rf"\b(?=[{ci_chars('acdfhijlmprt')}])(?:"
    + "|".join(ci(w) for w in _LEGAL_WORDS)
    + rf"|{ci('hearing')}{ci('s')}?(?![ \t]+(?:{ci('from')}|{ci('back')}|{ci('about')}))|"
    + "|".join(ci(w) for w in (
        "proceedings", "claimant", "defendant", "appellant", "respondent", "litigation", "magistrates", "familyman",
        "divorce", "injunction", "hmcts", "c100", "deputyship", "hague", "icacu"))
    + rf"|{ci('family')}[ \t]+(?:{ci('court')}|{ci('division')}|{ci('case')})"
    + rf"|{ci('child')}[ \t]+{ci('arrangements')})\b"
)
_CIVIL = re.compile(
    r"\b(?:claim|claims|civil|money\s+claims?|tribunal|sscs|employment|immigration|asylum|damages)\b",
    re.IGNORECASE,
)
_CONTEXT_BEFORE = 160
_CONTEXT_AFTER = 80
_LABEL_CONTEXT = 250
# CCD references are the time of issue in tenths of a second (eleven digits); HMCTS reform began in 2016.
_CCD_FIRST = dt.datetime(2016, 1, 1, tzinfo=dt.UTC).timestamp() * 10


def luhn_ok(digits: str) -> bool:
    """The Luhn check over a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def ccd_reference_ok(text: str) -> bool:
    """A plausible HMCTS CCD case reference: 16 digits, Luhn check digit, issued since 2016 and not later than
    a year from now."""
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) != 16 or not luhn_ok(digits):
        return False
    issued = int(digits[:11])
    latest = (dt.datetime.now(dt.UTC).timestamp() + 366 * 86400) * 10
    return _CCD_FIRST <= issued <= latest


class UkCaseNumberRecognizer(LocalRecognizer):
    """``UK_FAMILY_CASE_NUMBER`` and ``UK_COURT_CASE_NUMBER``: court references by shape, context or label."""

    name: str

    def __init__(
        self,
        supported_language: str = "en",
        supported_entities: list[str] | None = None,
        strong_score: float = 0.85,
        context_score: float = 0.8,
        label_score: float = 0.75,
        context_bonus: float = 0.1,
        name: str | None = None,
    ) -> None:
        self.strong_score = strong_score
        self.context_score = context_score
        self.label_score = label_score
        self.context_bonus = context_bonus
        super().__init__(
            supported_entities=supported_entities or [FAMILY, COURT],
            supported_language=supported_language,
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Patterns are compiled at import."""

    def _shape(self, text: str, m: re.Match[str], labelled: bool) -> tuple[str, float] | None:
        """(entity, score) of a shape match, or None when its shape needs context that is not there. A label
        right before the reference is context enough; a strong shape with a label scores ``context_bonus`` more."""
        judged = self._judge(text, m)
        if judged is None:
            return None
        entity, strong = judged
        if strong:
            return entity, min(1.0, self.strong_score + (self.context_bonus if labelled else 0.0))
        if labelled or _legal_near(text, m.start(), m.end(), _CONTEXT_BEFORE, _CONTEXT_AFTER):
            return entity, self.context_score
        return None

    @staticmethod
    def _judge(text: str, m: re.Match[str]) -> tuple[str, bool] | None:
        """(entity, whether the shape counts alone) of a shape match, or None when it is not a case number."""
        kind = m.lastgroup or ""
        if _NOT_COURT_PREFIX.match(m.group()):
            return None
        if kind == "familyman" and m.group("fm_court").upper() in _NON_FAMILY_COURT_CODES:
            return COURT, True
        if kind == "ccd":
            if not ccd_reference_ok(m.group()):
                return None
            civil = _CIVIL.search(text, max(0, m.start() - 120), min(len(text), m.end() + 60))
            return (COURT if civil else FAMILY), True
        if kind == "cefile":
            cf_list = m.group("cf_list").upper()
            entity = FAMILY if cf_list == "FD" else COURT
            return entity, bool(m.group("cf_region")) or cf_list in _CE_FILE_LISTS
        return (FAMILY if kind in _FAMILY_SHAPES else COURT), kind in _STRONG

    @staticmethod
    def _label_tokens(text: str) -> list[tuple[int, int, str, bool]]:
        """(start, end, label kind, legal word nearby) of each reference-like token right after a case label."""
        out: list[tuple[int, int, str, bool]] = []
        for lab in _LABEL.finditer(text):
            kind = lab.lastgroup or "generic"
            legal = kind != "generic" or _legal_near(text, lab.start(), lab.end(), _LABEL_CONTEXT, _LABEL_CONTEXT)
            pos = lab.end()
            for _ in range(6):  # "Case Nos: A, B and C"
                tok = _TOKEN.match(text, pos)
                if tok is None:
                    break
                value = tok.group()
                if (sum(c.isdigit() for c in value) < 3 or len(value) > 30 or _NOT_A_REFERENCE.fullmatch(value)
                        or _NOT_COURT_PREFIX.match(value)):
                    break
                out.append((tok.start(), tok.end(), kind, legal))
                sep = _LIST_SEP.match(text, tok.end())
                if sep is None or "\n\n" in sep.group():
                    break
                pos = sep.end()
        return out

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        tokens = self._label_tokens(text)
        results: list[RecognizerResult] = []
        taken: list[tuple[int, int]] = []
        for m in shape_matches(text):
            s, e = m.span()
            judged = self._shape(text, m, any(a < e and s < b for a, b, _k, _l in tokens))
            if judged is None:
                continue
            entity, score = judged
            taken.append((s, e))
            results.append(_as(result(self, s, e, score, f"case number ({m.lastgroup})"), entity))
        for s, e, kind, legal in tokens:
            if not legal or any(a < e and s < b for a, b in taken):
                continue
            taken.append((s, e))
            entity = FAMILY if kind == "family" else COURT
            results.append(_as(result(self, s, e, self.label_score, "reference after a case label"), entity))
        return results


def _legal_near(text: str, start: int, end: int, before: int, after: int) -> bool:
    return bool(
        _LEGAL.search(text, max(0, start - before), start) or _LEGAL.search(text, end, min(len(text), end + after))
    )


def _as(r: RecognizerResult, entity: str) -> RecognizerResult:
    r.entity_type = entity
    return r
