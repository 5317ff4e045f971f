"""Special-category topics (UK GDPR Art. 9 and criminal-offence data) from phrase lists.

Each ``special_category_<topic>.txt`` file holds the phrases of one topic, matched on light lemmas so that a
list entry ``self-harm`` also finds ``self harming`` and ``self-harmed``. A topic counts when it is about a person,
not when the same words are a business or legal noun:

* A phrase used as the modifier of an organisational noun (``domestic abuse training``, ``mental health team``)
  names a service or a course, and is skipped; the nouns come from their own list. So is a phrase after
  ``anti-``, ``non-`` or ``counter-`` (``anti-harassment policy``, ``non-alcoholic``).
* Words that are also everyday business words carry a marker in their list (list syntax):

  ``?phrase``
      counts only when its sentence is about a person: a name, a pronoun, a family or party role
      (``detectors.recognizers.anchors``): ``she reported harassment`` but not ``harassment & conduct
      training``, ``depression in the housing market``.
  ``??phrase``
      needs a pronoun or person noun within a few words, same clause: ``her disabled son``, ``he is
      disabled``, not ``Acme has disabled the API``.
  ``"phrase"``
      matches only in exactly that form: folding would merge senses (``"rape"`` is not ``rap``, ``"disabled"``
      is not ``disable``, ``"transitioning"`` is not ``transition``).
  ``!phrase``
      a known phrase that is not the topic (``!miscarriage of justice``, ``!assault course``): where it
      matches, the words inside it are not topics.

  Markers combine (``??"disabled"``). A phrase without a marker counts wherever it appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.anchors import PersonCues
from detectors.recognizers.text import WORD, PhraseIndex, Token, lemma_phrase, light_lemma, result, tokens
from gateway.config_errors import read_list_file

CATEGORY_KEY = "special_category"
_CLAUSE_BREAK = regex.compile(r"[.,;:!?()\[\]\n]")
_NEGATING_PREFIX = regex.compile(r"\b(?:anti|non|counter)[ \t]?-?[ \t]?$", regex.IGNORECASE)
ANYWHERE, SENTENCE, CLOSE = 0, 1, 2
_EXCLUDED = "!"


@dataclass(frozen=True, slots=True)
class TopicRule:
    """How a list phrase counts (see the module docstring for the list syntax)."""

    topic: str
    person: int = ANYWHERE
    """``ANYWHERE``, ``SENTENCE`` (a person cue in the sentence) or ``CLOSE`` (a pronoun or role within a few
    words)."""
    forms: frozenset[str] | None = None
    """Exact surface forms (lower case, words joined by one space), or None for any inflection."""


def parse_entry(entry: str) -> tuple[str, int, bool, bool]:
    """(phrase, person requirement, exact form, exclusion) of one list line."""
    exclusion = entry.startswith("!")
    entry = entry.lstrip("!").strip()
    person = ANYWHERE
    if entry.startswith("??"):
        person, entry = CLOSE, entry[2:].strip()
    elif entry.startswith("?"):
        person, entry = SENTENCE, entry[1:].strip()
    exact = len(entry) > 1 and entry[0] == entry[-1] == '"'
    return entry.strip('"').strip(), person, exact, exclusion


def _surface(text: str, toks: list[Token], first: int, stop: int) -> str:
    return " ".join(text[t.start : t.end].lower().replace("’", "'") for t in toks[first:stop])


def read_rules(phrase_files: list[str]) -> tuple[dict[tuple[str, ...], TopicRule], list[str]]:
    """Topic rules by lemma tuple (exclusions map to the topic ``!``), and the phrases. Entries with the same
    lemmas merge: any inflection if one entry allows it, the weakest person requirement, the first topic."""
    rules: dict[tuple[str, ...], TopicRule] = {}
    phrases: list[str] = []
    for f in phrase_files:
        path = Path(f)
        for entry in read_list_file(path):
            phrase, person, exact, exclusion = parse_entry(entry)
            key = lemma_phrase(phrase)
            if not key:
                continue
            phrases.append(phrase)
            forms = frozenset({" ".join(w.group().lower() for w in WORD.finditer(phrase))}) if exact else None
            rule = TopicRule(_EXCLUDED if exclusion else topic_of(path), person, forms)
            old = rules.get(key)
            if old is not None and old.topic != _EXCLUDED:
                if rule.topic == _EXCLUDED:
                    continue
                merged = None if old.forms is None or forms is None else old.forms | forms
                rule = TopicRule(old.topic, min(old.person, person), merged)
            rules[key] = rule
    return rules, phrases


def topic_of(path: Path) -> str:
    stem = path.stem
    for prefix in ("special_category_", "special_category"):
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
            break
    return stem.strip("_") or "general"


class SpecialCategoryRecognizer(LocalRecognizer):
    """``SPECIAL_CATEGORY``: topic phrases (domestic abuse, sexual abuse, mental health, self-harm ...)."""

    name: str

    def __init__(
        self,
        phrase_files: list[str] | None = None,
        organisational_nouns_file: str | None = None,
        supported_language: str = "en",
        supported_entity: str = "SPECIAL_CATEGORY",
        score: float = 0.8,
        common_words_file: str | None = None,
        organisation_words_file: str | None = None,
        places_file: str | None = None,
        name: str | None = None,
    ) -> None:
        self.score = score
        self.rules, phrases = read_rules(list(phrase_files or ()))
        self._keys = {"\x1f".join(k): rule for k, rule in self.rules.items()}
        self.index = PhraseIndex((p, "\x1f".join(lemma_phrase(p))) for p in phrases)
        self._prefixes = self.index.prefixes()
        not_names: set[str] = set()
        for f in (common_words_file, organisation_words_file, places_file):
            if f:
                not_names.update(read_list_file(Path(f)))
        self.cues = PersonCues(not_names)
        self.organisational_nouns: frozenset[str] = frozenset()
        if organisational_nouns_file:
            self.organisational_nouns = frozenset(
                light_lemma(w) for w in read_list_file(Path(organisational_nouns_file))
            )
        self._noun_prefixes = frozenset(w[:3] for w in self.organisational_nouns) | {"and"}
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Lists are read in the constructor, where their paths are known."""

    def _names_a_service(self, text: str, toks: list[Token], stop: int) -> bool:
        """The phrase modifies an organisational noun: ``... training``, ``... and wellbeing champion``."""
        nxt = toks[stop : stop + 3]
        if not nxt or _CLAUSE_BREAK.search(text, toks[stop - 1].end, nxt[0].start):
            return False
        if nxt[0].lemma in self.organisational_nouns:
            return True
        if nxt[0].lemma in ("and", "&") and len(nxt) == 3 and not _CLAUSE_BREAK.search(text, nxt[0].end, nxt[2].start):
            return nxt[1].lemma in self.organisational_nouns or nxt[2].lemma in self.organisational_nouns
        return False

    def _counts(self, text: str, toks: list[Token], first: int, stop: int, rule: TopicRule) -> bool:
        """Whether a phrase match is a topic about a person (form, prefix, service noun, person cue)."""
        if rule.forms is not None and _surface(text, toks, first, stop) not in rule.forms:
            return False
        start, end = toks[first].start, toks[stop - 1].end
        if _NEGATING_PREFIX.search(text, max(0, start - 9), start):
            return False
        if self._names_a_service(text, toks, stop):
            return False
        if rule.person == SENTENCE:
            s, e = self.cues.sentence(text, start, end)
            return self.cues.cue_in(text, s, e, skip=(start, end), initials=True)
        if rule.person == CLOSE:
            return self.cues.near_cue(text, start, end)
        return True

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not self.index:
            return []
        toks = tokens(text, prefixes=self._prefixes | self._noun_prefixes)
        results: list[RecognizerResult] = []
        for first, stop, key in self.index.find(toks):
            rule = self._keys[key]
            if rule.topic == _EXCLUDED or not self._counts(text, toks, first, stop, rule):
                continue
            start, end = toks[first].start, toks[stop - 1].end
            topic = rule.topic
            results.append(
                result(self, start, end, self.score, f"special-category topic: {topic}", metadata={CATEGORY_KEY: topic})
            )
        return results
