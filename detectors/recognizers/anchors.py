"""Is this sentence about a person? Cheap cues shared by the topic and age recognizers.

A special-category word or an age only matters when it is about someone: "she was diagnosed with epilepsy",
"the mother, aged 34", "Amy has been disabled since birth" -- not "disable the plugin", "harassment training",
"children aged 5 to 11". Without a tagger, the cues are read from the words of the same sentence:

* a third-person singular pronoun (``he``, ``she``, ``her``, ``his``, ``himself`` ...);
* a family or party role, or a person noun, in the singular (``the mother``, ``the appellant``, ``a boy``,
  ``the deceased``, ``P``);
* a title and a name (``Mrs Adeyemi``), or a capitalised word that is not a common word, an organisation word,
  a place, a month or a weekday (a name: ``Amy``, ``Kowalczyk``);
* a single capital letter standing for an anonymised party (``F was arrested``, ``the mother (M)``, ``A was
  accommodated``), and, where asked for, initials in capitals that act in the sentence (``ZX was 3 weeks
  old``, ``TKJ's``): judgments anonymise people that way, but mail is full of acronyms, so this is opt-in;
* a plural that names particular people: ``the parties``, ``both parents``, ``their children``.

``they``/``their`` and bare plural nouns (``children``, ``staff``, ``people``) are not cues: they are how notices,
policies and statistics talk about nobody in particular. First and second person (``I``, ``you``) are the
correspondents themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

PRONOUNS = frozenset({"he", "she", "him", "her", "his", "hers", "himself", "herself"})
PERSON_NOUNS = frozenset({
    "mother", "father", "mum", "mummy", "dad", "daddy", "parent", "child", "son", "daughter", "baby", "infant",
    "toddler", "boy", "girl", "man", "woman", "lady", "gentleman", "lad", "teenager", "youth", "brother",
    "sister", "sibling", "stepson", "stepdaughter", "grandson", "granddaughter", "grandmother", "grandfather",
    "grandparent", "grandma", "grandad", "granddad", "nan", "nana", "aunt", "uncle", "cousin", "niece",
    "nephew", "husband", "wife", "spouse", "widow", "widower", "fiance", "fiancee", "boyfriend", "girlfriend",
    "ex-partner", "ex-husband", "ex-wife", "stepfather", "stepmother", "step-father", "step-mother", "stepdad",
    "stepmum", "applicant", "respondent", "appellant", "claimant", "defendant", "deceased", "victim",
    "complainant", "patient", "pupil", "tenant", "carer", "offender", "suspect", "accused", "prisoner",
    "detainee", "individual", "person",
})
PLURAL_PERSONS = frozenset({
    "parties", "parents", "couple", "children", "boys", "girls", "twins", "siblings", "brothers", "sisters",
    "sons", "daughters", "grandparents", "appellants", "respondents", "claimants", "defendants", "applicants",
})
_DETERMINERS = frozenset({"the", "both", "their", "his", "her", "my", "our", "two", "three", "four", "these"})
# Words after an initial that show it is someone acting or described: "A was", "ZX had" (or a possessive: "ZX's").
_ACTS = frozenset({
    "was", "is", "has", "had", "and", "said", "says", "told", "lives", "lived", "attended", "were", "who",
    "died", "remains", "remained", "became", "appeared", "suffered",
})
MONTHS_DAYS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
})
TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "master", "prof", "sir", "dame", "lady", "lord"})

_WORD = regex.compile(r"[\p{L}][\p{L}'’\-]*")
# Sentence ends: ., ! or ? before white space (not inside "3.16" or an abbreviation's dot before a letter),
# or a blank line. A single line break does not end a sentence: mail is hard-wrapped.
_SENTENCE_BREAK = regex.compile(r"(?<!\b(?:Mr|Mrs|Ms|Dr|St|No|Nos|v|vs|cf|eg|ie|para|paras))[.!?](?=\s)|\n[ \t]*\n")
_MAX_SENTENCE = 320
_GAP_BREAK = regex.compile(r"[.;:!?()\n]")


class PersonCues:
    """Finds person cues in a span of text; built once per recognizer from its word lists."""

    def __init__(self, not_names: Iterable[str] = ()) -> None:
        self.not_names = frozenset(w.lower() for w in not_names) | MONTHS_DAYS | TITLES

    @staticmethod
    def sentence(text: str, start: int, end: int) -> tuple[int, int]:
        """The sentence around ``text[start:end]`` (capped at ``_MAX_SENTENCE`` characters each side)."""
        lo = max(0, start - _MAX_SENTENCE)
        s = lo
        for m in _SENTENCE_BREAK.finditer(text, lo, start):
            s = m.end()
        m2 = _SENTENCE_BREAK.search(text, end, min(len(text), end + _MAX_SENTENCE))
        e = m2.start() + 1 if m2 else min(len(text), end + _MAX_SENTENCE)
        return s, e

    def word_cue(self, word: str, *, names: bool) -> bool:
        """One word as a cue: pronoun, person noun, or (with ``names``) a capitalised non-common word."""
        low = word.lower().replace("’", "'")
        if low.endswith("'s"):
            low = low[:-2]
        if low in PRONOUNS or low in PERSON_NOUNS or word == "P":
            return True
        if not names:
            return False
        if len(word) == 1:
            return word.isupper() and word not in ("A", "I")
        if not word[0].isupper() or word.isupper():
            return False
        return low not in self.not_names and low.strip("'’") not in self.not_names

    def cue_in(
        self, text: str, start: int, end: int, skip: tuple[int, int] = (0, 0), *, names: bool = True,
        initials: bool = False,
    ) -> bool:
        """Any person cue among the words of ``text[start:end]`` outside ``skip`` (the topic itself)."""
        words = list(_WORD.finditer(text, start, end))
        for i, m in enumerate(words):
            if skip[0] <= m.start() < skip[1]:
                continue
            w = m.group()
            if self.word_cue(w, names=names):
                return True
            low = w.lower()
            if low in PLURAL_PERSONS and i > 0 and words[i - 1].group().lower() in _DETERMINERS:
                return True
            if not names:
                continue
            possessive = low.endswith(("'s", "’s"))
            base = w[:-2] if possessive else w
            if base == "A" or (initials and 2 <= len(base) <= 4 and base.isalpha() and base.isupper()
                               and base.lower() not in self.not_names):
                nxt = words[i + 1].group().lower() if i + 1 < len(words) else ""
                if (possessive and base != "A") or nxt in _ACTS:
                    return True
        return False

    def near_cue(self, text: str, start: int, end: int, words_before: int = 3, words_after: int = 2) -> bool:
        """A pronoun or person noun (not a bare capitalised word) within a few words of the span, same clause:
        ``she is disabled``, ``her disabled son``, ``a disabled mother``."""
        before = [m for m in _WORD.finditer(text, max(0, start - 60), start)][-words_before:]
        after = [m for m in _WORD.finditer(text, end, min(len(text), end + 40))][:words_after]
        for group, lo, hi in ((before, None, start), (after, end, None)):
            for m in group:
                gap = text[m.end():hi] if lo is None else text[lo:m.start()]
                if _GAP_BREAK.search(gap):
                    continue
                w = m.group()
                if self.word_cue(w, names=False) or (w[:1].isupper() and _titled(text, m.start())):
                    return True
        return False


_TITLE_BEFORE = regex.compile(r"(?i:\b(?:mr|mrs|ms|miss|mx|dr)\.?)[ \t]+$")


def _titled(text: str, pos: int) -> bool:
    return bool(_TITLE_BEFORE.search(text, max(0, pos - 6), pos))
