"""Small text helpers shared by the recognizers: word tokens, a light lemmatiser, phrase matching, results.

Context words and topic phrases are matched on light lemmas (``abused``, ``abusing``, ``abuses`` -> ``abus``)
computed with a few suffix rules instead of spaCy's tagger and lemmatizer. Those two pipes cost about as much
as NER itself on this model, and the rule lemmatiser also turns ``born`` into ``bear``, which breaks the most
useful birth-context word. Applying the same rules to the list entries and to the text keeps matching
symmetric, which is all phrase matching needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

import regex
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult

WORD = regex.compile(r"[\p{L}\p{N}]+(?:['’][\p{L}]+)?")


@lru_cache(maxsize=65536)
def light_lemma(word: str) -> str:
    """Fold inflections so that list phrases match their variants (symmetric, not linguistic)."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 3 or not w.isalpha():
        return w
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix == "s" and (w.endswith("ss") or w.endswith("us") or w.endswith("is")):
                break
            w = w[: -len(suffix)] + repl
            if suffix in ("ing", "ed") and len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def lemma_phrase(phrase: str) -> tuple[str, ...]:
    return tuple(light_lemma(m.group()) for m in WORD.finditer(phrase))


class Token(NamedTuple):
    """A word with its light lemma (a named tuple: tens of thousands are made per message batch)."""

    lemma: str
    start: int
    end: int


def tokens(text: str, start: int = 0, end: int | None = None, prefixes: frozenset[str] | None = None) -> list[Token]:
    """Word tokens with light lemmas. With ``prefixes`` (first three letters of every word that could match),
    other words get an empty lemma without being lemmatised: the lemma of a word of four or more letters keeps
    its first three, so nothing that could match is lost."""
    if start == 0 and end is None:
        spans: Iterable[tuple[str, int, int]] = word_spans(text)
    else:
        stop = len(text) if end is None else end
        spans = ((m.group(), m.start(), m.end()) for m in WORD.finditer(text, start, stop))
    if prefixes is None:
        return [Token(light_lemma(w), s, e) for w, s, e in spans]
    out = []
    for w, s, e in spans:
        if len(w) > 3 and w[:3].lower() not in prefixes:
            out.append(Token("", s, e))
        else:
            out.append(Token(light_lemma(w), s, e))
    return out


@lru_cache(maxsize=8)
def word_spans(text: str) -> tuple[tuple[str, int, int], ...]:
    """(word, start, end) of every word; memoised because several recognizers walk the same text in turn."""
    return tuple((m.group(), m.start(), m.end()) for m in WORD.finditer(text))


class PhraseIndex:
    """Phrases (as lemma tuples) indexed by first lemma: one dictionary probe per text token."""

    def __init__(self, phrases: Iterable[tuple[str, str]]) -> None:
        """``phrases`` are (phrase, label) pairs; the label comes back with each match."""
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, label in phrases:
            lem = lemma_phrase(phrase)
            if lem:
                self._by_first.setdefault(lem[0], []).append((lem, label))
        for entries in self._by_first.values():
            entries.sort(key=lambda e: -len(e[0]))  # longest phrase first

    def prefixes(self) -> frozenset[str]:
        """First three letters of every lemma in every phrase (see ``tokens``)."""
        return frozenset(lem[:3] for entries in self._by_first.values() for phrase, _ in entries for lem in phrase)

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def find(self, toks: Sequence[Token]) -> list[tuple[int, int, str]]:
        """(first token index, end token index, label) of each longest, non-overlapping match."""
        out: list[tuple[int, int, str]] = []
        i = 0
        n = len(toks)
        while i < n:
            entries = self._by_first.get(toks[i].lemma)
            matched = False
            if entries:
                for lem, label in entries:
                    k = len(lem)
                    if i + k <= n and all(toks[i + j].lemma == lem[j] for j in range(1, k)):
                        out.append((i, i + k, label))
                        i += k
                        matched = True
                        break
            if not matched:
                i += 1
        return out

    def contains_any(self, lemmas: Sequence[str]) -> str:
        """The first phrase found in a short lemma sequence ('' if none): for context windows."""
        n = len(lemmas)
        for i in range(n):
            for lem, _label in self._by_first.get(lemmas[i], ()):
                k = len(lem)
                if i + k <= n and tuple(lemmas[i : i + k]) == lem:
                    return " ".join(lem)
        return ""


def result(
    recognizer: EntityRecognizer,
    start: int,
    end: int,
    score: float,
    explanation: str,
    *,
    context_fixed: bool = True,
    metadata: dict[str, object] | None = None,
) -> RecognizerResult:
    """One finding from our recognizers. ``context_fixed`` marks a score that already reflects required context,
    so Presidio's enhancer must not raise it again."""
    name = str(getattr(recognizer, "name", ""))  # Presidio leaves these attributes unannotated
    meta: dict[str, object] = {
        RecognizerResult.RECOGNIZER_NAME_KEY: name,
        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: str(getattr(recognizer, "id", "")),
        **(metadata or {}),
    }
    if context_fixed:
        meta[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
    return RecognizerResult(
        entity_type=recognizer.supported_entities[0],
        start=start,
        end=end,
        score=score,
        analysis_explanation=AnalysisExplanation(
            recognizer=name, original_score=score, textual_explanation=explanation
        ),
        recognition_metadata=meta,
    )
