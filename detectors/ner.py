"""spaCy NER, run only where it can matter, and only on the sentences worth showing it.

Scheduling: ``assess_sensitivity`` is monotone in PERSON findings, so a block needs NER only if a PERSON placed
at its start or next to any finding in it would raise the message's level (``blocks_needing_ner``). Input: of
such a block, only sentences with a capitalised word that is not a common word, outside greetings, signatures
and quoted headers (``NerPass.units``). Output: spaCy labels mapped to Presidio entities as
``nlp_configuration.ner_model_configuration`` says, then PERSON spans cleaned by the name rules.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any

from detectors.blocks import Block, Candidate, ChunkWork, Raw
from detectors.findings import Finding, Sensitivity
from detectors.names import NameRules
from detectors.recognizers.layout import zones
from detectors.sensitivity import DEFAULT_WEIGHTS, Weights, assess_sensitivity
from detectors.settings import DetectorsSettings

_SENTENCE = re.compile(r"[^\n]+?(?:(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)[.!?](?=\s)|(?=\n)|$)")
_CAPITALISED = re.compile(r"\b[^\W\d_][^\W\d_'’\-]*")


def bare_finding(works: list[ChunkWork], c: Candidate) -> Finding:
    """A candidate as a finding with no text, fingerprint or redaction: enough for ``assess_sensitivity``."""
    return Finding(c.entity, c.score, works[c.chunk].chunk.location, c.start, c.end, c.detector, "")


def blocks_needing_ner(
    works: list[ChunkWork], cands: list[Candidate], weights: Weights = DEFAULT_WEIGHTS
) -> list[Block]:
    """Blocks where a PERSON (anywhere in them, or next to any finding in them) would raise sensitivity.

    ``assess_sensitivity`` is monotone in PERSON findings, so if a PERSON placed at every finding of a block
    and at its start cannot raise the level, no name NER could find in that block can either.
    """
    findings = [bare_finding(works, c) for c in cands]
    current = assess_sensitivity(findings, weights)
    if current == Sensitivity.SPECIAL_CATEGORY:
        return []
    by_chunk: dict[int, list[Candidate]] = {}
    for c in cands:
        by_chunk.setdefault(c.chunk, []).append(c)
    need: list[Block] = []
    for w in works:
        loc = w.chunk.location
        mine = sorted(by_chunk.get(w.blocks[0].chunk, []) if w.blocks else [], key=lambda c: c.start)
        starts = [c.start for c in mine]
        for b in w.blocks:
            lo, hi = bisect_left(starts, b.start), bisect_left(starts, b.end)
            spots = {b.start} | {c.start for c in mine[lo:hi]} | {c.end for c in mine[lo:hi]}
            synthetic = [Finding("PERSON", 1.0, loc, x, x, "hypothetical", "") for x in spots]
            if assess_sensitivity(findings + synthetic, weights) > current:
                need.append(b)
    return need


class NerPass:
    """Runs the spaCy pipeline (only the ``ner`` pipe, batched) over blocks and stores cleaned results on them."""

    def __init__(self, nlp: Any, settings: DetectorsSettings, entities: frozenset[str], names: NameRules) -> None:
        self.nlp = nlp
        self.settings = settings
        self.entities = entities
        self.names = names
        self.runs = 0
        """Blocks passed through NER since start (for metrics and benchmarks)."""
        ner_cfg = settings.nlp_configuration.ner_model_configuration
        self._label_map = dict(ner_cfg.model_to_presidio_entity_mapping)
        self._ignore = frozenset(ner_cfg.labels_to_ignore)
        self._low = frozenset(ner_cfg.low_score_entity_names)
        self._low_mult = ner_cfg.low_confidence_score_multiplier
        self._score = ner_cfg.default_score

    def units(self, text: str) -> list[tuple[int, int]]:
        """Spans of a block worth showing to NER: sentences with a capitalised word that is not a common word,
        outside greetings, signatures and quoted headers (whose names are never findings). A PERSON that
        survives cleaning always has such a word, so this loses nothing NER could contribute; it is the NER
        input, not a filter on its output."""
        layout = self.settings.layout
        common_words = self.names.common_words
        skip = zones(text, signatures=layout.signatures, greetings=layout.greetings,
                     quoted_headers=layout.quoted_headers, signature_max_lines=layout.signature_max_lines)
        units: list[tuple[int, int]] = []
        for m in _SENTENCE.finditer(text):
            s, e = m.span()
            if any(z.start <= s < z.end for z in skip):
                continue
            if not any(w[:1].isupper() and w.lower() not in common_words and not w.isupper()
                       for w in _CAPITALISED.findall(text, s, e)):
                continue
            if units and not text[units[-1][1] : s].strip():
                units[-1] = (units[-1][0], e)
            else:
                units.append((s, e))
        return units

    def run(self, works: list[ChunkWork], todo: list[Block]) -> None:
        """NER on ``todo`` (blocks whose ``analysis.ner`` is still None); results are set on each block."""
        if not todo or self.nlp is None:
            return
        jobs: list[tuple[Block, str, int, int]] = []
        for b in todo:
            text = works[b.chunk].norm.text[b.start : b.end]
            b.analysis.ner = []
            self.runs += 1
            jobs.extend((b, text, s, e) for s, e in self.units(text))
        docs = self.nlp.pipe((text[s:e] for _b, text, s, e in jobs), batch_size=self.settings.nlp.batch_size)
        raws_by_block: dict[int, list[Raw]] = {}
        for (b, _text, s, _e), doc in zip(jobs, docs, strict=True):
            raws = raws_by_block.setdefault(id(b), [])
            for ent in doc.ents:
                label = ent.label_
                mapped = self._label_map.get(label, label)
                if label in self._ignore or mapped in self._ignore or mapped not in self.entities:
                    continue
                score = self._score * (self._low_mult if mapped in self._low else 1.0)
                raws.append(Raw(mapped, s + ent.start_char, s + ent.end_char, score, "SpacyRecognizer"))
        for b in todo:
            text = works[b.chunk].norm.text[b.start : b.end]
            b.analysis.ner = self.names.clean_persons(text, raws_by_block.get(id(b), []), b.analysis.patterns)
