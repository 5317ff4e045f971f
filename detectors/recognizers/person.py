"""Names found by structure rather than NER: after a title, after a form label, next to a family role.

The small spaCy model misses or mislabels many names (as ORG, GPE or nothing), especially non-Anglo ones, and
NER is the costliest step. These patterns are cheap and run on every text: ``Mrs Adeyemi``, ``Name: Jane
Smith``, ``the mother, Oluwaseun Adeyemi``, ``Child: Amir Khan``, ``Jane Smith (maternal grandmother)``.
A family role next to a name is also case context, so ``FamilyRoleNameRecognizer`` findings count as an
identifiable third party on their own when sensitivity is assessed. That makes the words after a role need to
be a plausible name, not just capitalised: not a possessive role (``Father's Day``), not a capitalised role
followed straight by a capitalised word (``Mother Superior``, ``Parent Guarantee``: titles, products, slogans;
case text writes ``the mother Jane Smith`` or ``Mother: Jane Smith``), not starting with a common word
(``Brother, Where Art Thou``), not followed by an organisation word (``Brother International``), not inside a
title-case heading line. Titles have the same problem: ``Master Cook`` and ``Lord Reed`` are judges, ``Mr
Justice Cobb`` is a judge, ``Mr Smith QC`` is counsel, and ``Re: Budget Update`` is a subject line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.business import ORG_AFTER, ORG_FORM_WORDS
from detectors.recognizers.patterns import NAME_SEQ
from detectors.recognizers.person_context import (
    CASE_HEADING_SUFFIX,
    JUDICIAL_WORDS,
    POST_NOMINAL,
    heading_line,
    org_chain,
    professional_context,
)
from detectors.recognizers.text import result, word_spans
from gateway.config_errors import read_list_file

TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Master|Prof|Professor|Sir|Dame|Lady|Lord)"
_WINDOW = 120  # characters around a trigger searched by the full pattern (names sit right next to cues)
Trigger = str
TITLE: Trigger = "<title>"
POSSESSIVE: Trigger = "<possessive>"
LABEL: Trigger = "<label>"
HEADING: Trigger = "<heading>"
ROLE: Trigger = "<role>"
PARTY: Trigger = "<party>"  # a role word opening its line: the role line under a party's name on a title page


@dataclass(frozen=True, slots=True)
class Rule:
    """A full pattern and where to try it: at each trigger word (anchored) or in a window around it."""

    trigger: Trigger
    pattern: regex.Pattern[str]
    anchored: bool = False
    before: int = 100
    after: int = 100

DEFAULT_ROLES = [
    "child", "children", "subject child", "the child", "son", "daughter", "baby", "infant", "young person",
    "mother", "father", "mum", "dad", "parent", "birth mother", "birth father", "step-father", "stepfather",
    "step-mother", "stepmother", "stepdad", "stepmum", "grandmother", "grandfather", "grandparent", "nan",
    "nana", "grandma", "grandad", "granddad", "maternal grandmother", "paternal grandmother",
    "maternal grandfather", "paternal grandfather", "aunt", "uncle", "cousin", "sibling", "brother", "sister",
    "half-brother", "half-sister", "stepbrother", "stepsister", "applicant", "respondent", "first respondent",
    "second respondent", "applicant mother", "applicant father", "respondent mother", "respondent father",
    "intervenor", "partner", "ex-partner", "former partner", "new partner", "boyfriend", "girlfriend",
    "husband", "wife", "ex-husband", "ex-wife", "foster carer", "kinship carer", "special guardian",
    # parties to any proceedings (a private person's name next to one is case context): "the claimant, Harry
    # Fitzhugh", "Sugar (Deceased)"; counsel and representatives are told apart by professional_context()
    "claimant", "defendant", "appellant", "petitioner", "deceased", "twin",
]


POSSESSED = [
    "nhs number", "nhs no", "date of birth", "dob", "d.o.b", "address", "home address", "school", "nursery",
    "gp", "social worker", "health visitor", "passport", "national insurance number", "ni number", "bedroom",
    "birthday", "diagnosis", "medication", "phone number", "mobile", "mobile number", "email", "email address",
    "solicitor", "contact", "wishes and feelings", "case", "file", "records",
]


def _alternation(words: list[str]) -> str:
    parts = []
    for w in sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True):
        parts.append(regex.escape(w).replace(r"\ ", r"\s+").replace(r"\-", r"[\-\s]?"))
    return "|".join(parts) or r"(?!)"


class _NameRecognizer(LocalRecognizer):
    """Shared trimming: a name never starts or ends with a common word (``Thanks Jane``, ``Jane Smith Said``)."""

    name: str

    score: float = 0.7
    explanation = "name"

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "PERSON",
        common_words_file: str | None = None,
        score: float | None = None,
        name: str | None = None,
        organisation_words_file: str | None = None,
        places_file: str | None = None,
    ) -> None:
        if score is not None:
            self.score = score

        def words(path: str | None) -> frozenset[str]:
            return frozenset(read_list_file(Path(path))) if path else frozenset()

        self.common = words(common_words_file)
        self.organisation_words = words(organisation_words_file)
        self.places = words(places_file)
        self._titles_set: frozenset[str] = frozenset()
        self._trigger_words: dict[str, tuple[Trigger, ...]] = {}
        self._patterns = self.build_patterns()
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            name=name or type(self).__name__,
        )

    def build_patterns(self) -> list[Rule]:  # pragma: no cover - overridden
        return []

    def accept(self, text: str, m: regex.Match[str]) -> bool:
        """Rule-specific plausibility of the name a pattern matched (subclasses narrow it)."""
        return not ORG_AFTER.match(text, m.end("name"))

    def _first_word_common(self, m: regex.Match[str]) -> bool:
        first = m.group("name").split()[0].strip(".,'’").lower()
        return first in self.common

    def _triggers(self, text: str) -> dict[Trigger, list[tuple[int, int]]]:
        """One pass over the words: the (start, end) of each trigger word, by trigger."""
        wanted = self._trigger_words
        hits: dict[Trigger, list[tuple[int, int]]] = {}
        for word, start, end in word_spans(text):
            if word[-2:] in ("'s", "’s"):
                hits.setdefault(POSSESSIVE, []).append((start, end))
                word = word[:-2]
            if word in self._titles_set:
                hits.setdefault(TITLE, []).append((start, end))
            for trig in wanted.get(word.lower(), ()):
                hits.setdefault(trig, []).append((start, end))
        return hits

    def _matches(self, text: str) -> list[regex.Match[str]]:
        hits = self._triggers(text)
        out: list[regex.Match[str]] = []
        for rule in self._patterns:
            spots = hits.get(rule.trigger)
            if not spots:
                continue
            if rule.anchored:
                for start, _end in spots:
                    m = rule.pattern.match(text, start)
                    if m:
                        out.append(m)
                continue
            windows: list[tuple[int, int]] = []
            for start, end in spots:
                s, e = max(0, start - rule.before), min(len(text), end + rule.after)
                if windows and s <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], max(windows[-1][1], e))
                else:
                    windows.append((s, e))
            for s, e in windows:
                out.extend(rule.pattern.finditer(text, s, e))
        return out

    def _trim(self, text: str, start: int, end: int) -> tuple[int, int]:
        words = list(_NON_SPACE.finditer(text[start:end]))
        while words and words[-1].group().strip(".,'’").lower() in self.common:
            words.pop()
        while words and words[0].group().strip(".,'’").lower() in self.common:
            words.pop(0)
        if not words:
            return start, start
        return start + words[0].start(), start + words[-1].end()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        seen: set[tuple[int, int]] = set()
        for m in self._matches(text):
            whole = m.group("name").lower().split()
            if any(w.strip(".,'’") in self.organisation_words for w in whole):
                continue
            if not self.accept(text, m):
                continue
            start, end = self._trim(text, *m.span("name"))
            if end - start < 2 or (start, end) in seen:
                continue
            if text[start:end].lower() in self.places:
                continue
            if not any(c.islower() for c in text[start:end]) and " " not in text[start:end]:
                continue  # a lone word in capitals is an acronym, not a name
            seen.add((start, end))
            results.append(
                result(self, start, end, self.score, self.explanation)
            )
        return results


class TitledNameRecognizer(_NameRecognizer):
    """``PERSON`` after a title (``Mrs Adeyemi``) or a name label (``Name: Jane Smith``)."""

    explanation = "name after a title or a name label"

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "PERSON",
        common_words_file: str | None = None,
        score: float | None = None,
        titles: str = TITLES,
        name: str | None = None,
        organisation_words_file: str | None = None,
        places_file: str | None = None,
    ) -> None:
        self.titles = titles
        super().__init__(
            supported_language, supported_entity, common_words_file, score, name, organisation_words_file, places_file
        )

    def build_patterns(self) -> list[Rule]:
        possessed = _alternation(POSSESSED)
        self._titles_set = frozenset(self.titles.strip("(?:)").split("|"))
        self._trigger_words = {w: (LABEL,) for w in ("name", "surname", "forename", "forenames", "aka", "known")}
        self._trigger_words["re"] = (HEADING,)
        return [
            Rule(TITLE, regex.compile(rf"(?P<title>{self.titles})\.?[ \t]+(?P<name>{NAME_SEQ})"), anchored=True),
            Rule(
                LABEL,
                regex.compile(
                    r"(?i:(?<![\w])(?:full[ \t]+|maiden[ \t]+|known[ \t]+as|also[ \t]+known[ \t]+as|aka|nee|née)?"
                    r"(?:name|surname|forenames?|first[ \t]+name|a\.k\.a\.?|known[ \t]+as))"
                    rf"(?:[ \t]*[:\-–][ \t]*|[ \t]+(?i:is|was)[ \t]+)(?P<name>{NAME_SEQ})"
                ),
                before=30,
                after=80,
            ),
            # a case heading: "Re: Amir Khan" at the start of a line (family-law style "Re: X (A Child)")
            Rule(
                HEADING,
                regex.compile(
                    rf"(?:^|(?<=\n))[ \t]*(?P<heading>(?i:re))[ \t]*:[ \t]*(?P<name>{NAME_SEQ})"
                    r"(?=[ \t]*(?:\n|$|[(\-–,]))"
                ),
                before=10,
                after=80,
            ),
            # a possessive before a personal attribute: "Leah's NHS number", "Amir's date of birth"
            Rule(
                POSSESSIVE,
                regex.compile(rf"(?<![\w])(?P<name>{NAME_SEQ})['’]s[ \t]+(?i:{possessed})(?![\w])"),
                before=70,
                after=40,
            ),
        ]


    def accept(self, text: str, m: regex.Match[str]) -> bool:
        if not super().accept(text, m):
            return False
        groups = m.groupdict()
        words = m.group("name").split()
        if groups.get("title"):
            title = m.group("title")
            before = text[max(0, m.start() - 20) : m.start()].split()
            prev = before[-1].strip(".,'’()").lower() if before else ""
            if words[0].strip(".,").lower() in JUDICIAL_WORDS or prev in JUDICIAL_WORDS:
                return False  # "Mr Justice Cobb", "Deputy Master Bowles", "District Judge"
            last = words[-1].strip(".,")
            if regex.fullmatch(POST_NOMINAL, last) or professional_context(text, m.start("name"), m.end("name")):
                return False  # "Mr Smith QC", "Ms Jones (instructed by ...)", a judges' list
            if title in ("Master", "Lord", "Lady") and len(words) < 2:
                return False  # "Master Cook" and "Lord Reed" are judges; a boy is "Master Amir Khan"
            return True
        if groups.get("heading"):
            # "Re: Amir Khan (A Child)" is a case heading; "Re: Budget Update" is a subject line
            if CASE_HEADING_SUFFIX.match(text, m.end("name")):
                return True
            if len(words) < 2 or heading_line(text, m.start("name"), m.end("name")):
                return False
            return not any(w.strip(".,'’").lower() in self.common for w in (words[0], words[-1]))
        return True


# What stands before "partner" when it means a person's partner: a determiner or possessive, or an adjective of
# the relationship. Any other word right before it makes a compound ("delivery partner", "phone partner",
# "channel partner"): a firm, unless a person's possessive opens the phrase ("her estranged partner", "the
# mother's violent ex-partner"). A closed class of function words, not a list of firms or trades.
_PERSONAL_PARTNER_BEFORE = frozenset({
    "the", "a", "an", "her", "his", "my", "your", "their", "whose", "its", "new", "former", "ex", "current",
    "late", "then", "now", "previous", "male", "female", "same-sex", "abusive", "violent", "married", "unmarried",
    "cohabiting", "civil", "long-term", "longterm", "older", "younger", "estranged", "separated", "deceased",
    "and", "or", "with",
})
_PERSON_POSSESSIVES = frozenset({"her", "his", "my", "their", "whose"})
_PHRASE_BEFORE = regex.compile(r"((?:[\p{L}'’\-]+[ \t]*\n?[ \t]*){1,3})\Z")


def groups_role_is_business_partner(text: str, m: regex.Match[str]) -> bool:
    """A "partner" role word with a compound modifier before it (see ``_PERSONAL_PARTNER_BEFORE``)."""
    role = (m.groupdict().get("role") or "").lower()
    if role not in ("partner", "partners") or m.group("role")[:1].isupper():
        return False  # "Partner: Jane Hale" is a label
    before = _PHRASE_BEFORE.search(text, max(0, m.start("role") - 60), m.start("role"))
    if before is None:
        return False
    words = [w.lower().replace("’", "'") for w in before.group(1).split()]
    last = words[-1]
    if last in _PERSONAL_PARTNER_BEFORE or last.endswith("-") or last.startswith("ex-"):
        return False  # "the partner", "her ex-partner" (the hyphen joins "ex-" to the role word)
    return not any(w in _PERSON_POSSESSIVES or w.endswith("'s") for w in words)


def _named_as_organisation(text: str, name: str) -> bool:
    """The same words stand elsewhere in the text with an organisation form after them: the name is a firm's."""
    pos = text.find(name)
    while pos >= 0:
        end = pos + len(name)
        if (pos == 0 or not text[pos - 1].isalnum()) and ORG_AFTER.match(text, end):
            return True
        pos = text.find(name, end)
    return False


_NON_SPACE = regex.compile(r"\S+")
_LINE_OPENING = regex.compile(r"[ \t]*(?:\(\d{1,2}\)[ \t]*)?\(?[ \t]*")


class FamilyRoleNameRecognizer(_NameRecognizer):
    """``PERSON`` next to a family or party role: case context (``the mother, Jane Smith``, ``Child: Amir``)."""

    score = 0.8
    explanation = "name next to a family or party role"

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "PERSON",
        common_words_file: str | None = None,
        score: float | None = None,
        roles: list[str] | None = None,
        name: str | None = None,
        organisation_words_file: str | None = None,
        places_file: str | None = None,
    ) -> None:
        self.roles = roles or list(DEFAULT_ROLES)
        super().__init__(
            supported_language, supported_entity, common_words_file, score, name, organisation_words_file, places_file
        )

    def build_patterns(self) -> list[Rule]:
        roles = _alternation(self.roles)
        glue = (
            r"(?P<glue>[ \t]*[:\-–,(][ \t]*|[ \t]+(?i:in[ \t]+(?:this|these|the)[ \t]+(?:action|proceedings|case|claim"
            r"|appeal|application|matter)[ \t]+)?(?i:is|was|called|named|being)[ \t]+|[ \t]+)"
        )
        # anchored at the role word itself (determiners before it need not be matched); a possessive role only
        # with "name" after it ("the mother's name is Jane"): "Father's Day" is not a name
        after_role = (
            rf"(?P<role>(?i:{roles}))(?i:['’]s[ \t]+name|[ \t]+name|[ \t]+\(\w+\))?{glue}(?P<name>{NAME_SEQ})"
        )
        # "X, the father of ..." only when a person follows "of" ("the father of lies" is a phrase)
        of_person = (
            r"[ \t]+(?i:of)[ \t]+(?:(?i:the[ \t]+)?(?i:child|children|boy|girl|baby|twins|subject|applicant"
            r"|respondent|late)|(?i:her|his|their|my|our|both|two|three|four|five)\b|\p{Lu})"
        )
        before_role = (
            rf"(?<![\w])(?P<name>{NAME_SEQ})(?=[ \t]*(?:\(|,[ \t]*|[ \t]-[ \t]|[ \t](?i:is|was)[ \t]+)"
            rf"(?i:(?:aged[ \t]+\d+[,;]?[ \t]*)?(?:the[ \t]+|his[ \t]+|her[ \t]+|their[ \t]+)?"
            rf"(?:child's[ \t]+|children's[ \t]+|child’s[ \t]+|children’s[ \t]+)?(?:{roles}))"
            rf"(?=[ \t]*(?:[),;.:]|$)|[ \t]+(?i:to|in|for)(?![\w])|{of_person}))"
        )
        possessive = rf"(?<![\w])(?P<name>{NAME_SEQ})['’]s[ \t]+(?i:{roles})(?![\w])"
        role_words = {w for r in self.roles for w in re.split(r"[\s\-]+", r.lower()) if w and w not in ("the", "a")}
        self._trigger_words = {w: (ROLE,) for r in role_words for w in (r, r + "s")}  # "Defendants" too
        self._role_words = frozenset(w for w in role_words if w not in ("child", "young", "person"))
        # a court title page: a party's name on its own line, its role on the next ("NATASHA PALMER\nClaimant",
        # "(1) MR SEFERIF MANTAS\n(Defendant)"); names there are usually in capitals
        caps_name = r"\p{Lu}[\p{Lu}'’\-]+(?:[ \t]+\p{Lu}[\p{Lu}'’\-]+){1,4}"
        party_line = (
            r"(?:^|(?<=\n))[ \t]*(?:\(\d{1,2}\)[ \t]*)?(?:(?i:mr|mrs|ms|miss|mx|dr)\.?[ \t]+)?"
            rf"(?P<party>{caps_name}|{NAME_SEQ})[ \t]*"
            # further parties of the same side before the role line: "(2) LIVERPOOL VICTORIA INSURANCE LIMITED"
            rf"(?:\n[ \t]*\(\d{{1,2}}\)[^\n]{{1,80}}"
            rf"|\n[ \t]*(?:(?i:mr|mrs|ms|miss|dr)\.?[ \t]+)?{caps_name}[ \t]*){{0,3}}"
            rf"\n[ \t]*(?:\(\d{{1,2}}\)[ \t]*)?\(?(?i:(?:{roles})s?)\)?[ \t]*(?:[/:]|\n|$)"
        )
        return [
            Rule(ROLE, regex.compile(rf"(?<![\w]){after_role}"), anchored=True),
            Rule(ROLE, regex.compile(before_role), before=80, after=30),
            Rule(POSSESSIVE, regex.compile(possessive), before=70, after=40),
            Rule(PARTY, regex.compile(party_line.replace("(?P<party>", "(?P<name>")), before=90, after=30),
        ]

    def _triggers(self, text: str) -> dict[Trigger, list[tuple[int, int]]]:
        hits = super()._triggers(text)
        party = [(s, e) for s, e in hits.get(ROLE, ()) if _LINE_OPENING.fullmatch(text, text.rfind("\n", 0, s) + 1, s)]
        if party:
            hits[PARTY] = party
        return hits

    def accept(self, text: str, m: regex.Match[str]) -> bool:
        if not super().accept(text, m) or self._first_word_common(m):
            return False  # "Brother, Where Art Thou", "Brother International"
        name_words = [w.strip(".,'’").lower() for w in m.group("name").split()]
        if any(w in self._role_words for w in name_words):
            return False  # "the Husband's father": a role, not a name
        if any(w in self.organisation_words or w in ORG_FORM_WORDS for w in name_words) or (
                m.group("name").isupper() and any(w in self.common for w in name_words)):
            return False  # "SUNDERLAND CITY COUNCIL\nClaimant", "THE INFORMATION COMMISSIONER\nRespondent"
        if org_chain(text[max(0, m.start("name") - 80) : m.start("name")]):
            return False  # "Commissioners for Her Majesty's Revenue and Customs (Appellant)"
        if _named_as_organisation(text, m.group("name")):
            return False  # "partner Bumblebee" when the text also says "Bumblebee Ltd"
        if groups_role_is_business_partner(text, m):
            return False  # "our online phone partner, Bumblebee Communications"
        # a name with its party role on the next line is a party even right under the judges' list
        party_line = "\n" in text[m.end("name") : m.end()]
        if professional_context(text, m.start("name"), m.end("name"), judges_list=not party_line):
            return False  # "For the First Respondent: Richard Bailey of the ICO"
        groups = m.groupdict()
        if groups.get("role") is None:
            return not heading_line(text, m.start("name"), m.end("name"))
        glue = m.group("glue")
        if not glue.strip() and m.group("role")[:1].isupper():
            # "Mother Superior", "Parent Guarantee", "Father Christmas": a capitalised role straight before a
            # capitalised word is a title or a product; a label has a colon or dash ("Mother: Jane Smith")
            return False
        if glue.strip() in ("", ",") and heading_line(text, m.start(), m.end("name")):
            return False
        return True
