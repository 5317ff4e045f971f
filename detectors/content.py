"""Content detection: a Presidio ``AnalyzerEngine`` built once per worker from ``config/detectors.yaml``.

Per message the work is, in order of cost:

1. normalise each text (full-width digits, invisible characters, entities, quote prefixes) keeping an offset map
   (``detectors.normalize``);
2. cut it into blocks at quoted-message boundaries and look each block up in an LRU cache by content hash, so a
   reply chain's history and a re-sent attachment are analysed once (``detectors.blocks``);
3. run the pattern recognizers (Presidio's and ours) through ``AnalyzerEngine.analyze`` with empty NLP
   artifacts: no spaCy at all (``detectors.presidio_adapter``);
4. drop what is not a finding: correspondents' names and contact details (greetings, signatures, quoted
   headers, the envelope sender), the organisation's own numbers and addresses, entities never reported
   (``detectors.candidates``, with ``allowlist``, ``names``, ``venues`` and ``overlaps``);
5. run spaCy NER (only the ``ner`` pipe, batched with ``nlp.pipe``) on the blocks where a PERSON could still
   change the message's sensitivity, then clean its PERSON spans (postcodes, places, organisations, common
   words) and treat name-shaped ORG spans as low-score PERSON candidates (``detectors.ner``, ``detectors.names``).

``analyze_text`` (the ``detect`` command) always runs NER on everything, so its output shows every entity.
This module takes values only (the validated settings, the path of the file they came from, the organisation's
domains); it knows nothing of the gateway's configuration.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presidio_analyzer import RecognizerResult

from detectors import recognizers as _recognizers  # registers our classes; makes tldextract offline
from detectors.allowlist import AllowList
from detectors.blocks import Block, BlockAnalysis, BlockCache, Candidate, ChunkWork, Raw
from detectors.candidates import CandidateFilter
from detectors.findings import Finding
from detectors.names import WORDS, NameRules, correspondents
from detectors.ner import NerPass, blocks_needing_ner
from detectors.normalize import normalize
from detectors.presidio_adapter import empty_artifacts
from detectors.recognizers.layout import Zone, blocks, zones
from detectors.recognizers.special import CATEGORY_KEY
from detectors.redact import redact
from detectors.sensitivity import Weights
from detectors.settings import DetectorsSettings, load_detectors_settings
from gateway.config_errors import read_list_file
from gateway.mime.model import TextChunk

_ = _recognizers

_FINGERPRINT_KEY = os.urandom(16)
# Display names of the message's own address fields (``gateway.mime.headers``) are the correspondents' names:
# like a quoted From/To block, their names and contact details are not findings (identifiers in them are).
_ADDRESS_HEADER_LOCATIONS = frozenset(
    f"header:{name}" for name in ("from", "sender", "reply-to", "to", "cc", "bcc")
)
_RECOGNIZER_NAME_KEY = RecognizerResult.RECOGNIZER_NAME_KEY


@dataclass(frozen=True)
class DetectionContext:
    """Who is sending, and what the caller wants back."""

    sender_address: str
    sender_name: str
    run_ner: bool = True
    """False for internal-only mail: NER never runs (no decision depends on names there)."""
    reveal: bool = False
    """Put the matched text into each Finding (``scan --reveal``, ``detect``)."""
    recipients: tuple[tuple[str, str], ...] = ()
    """(envelope recipient, the display name the To/Cc fields give it or ""): with the sender, the only people
    whose names and details are exempt (``detectors.names.correspondents``)."""


def _fingerprint(entity: str, value: str) -> str:
    canonical = " ".join(WORDS.findall(value.lower())) if entity == "PERSON" else re.sub(r"\W", "", value).upper()
    return hashlib.blake2b(f"{entity}:{canonical}".encode(), key=_FINGERPRINT_KEY, digest_size=8).hexdigest()


class ContentDetector:
    """Presidio analysis of a message's text chunks, returning findings with the correspondents left out."""

    def __init__(
        self,
        *,
        engine: Any,
        settings: DetectorsSettings,
        config_file: Path,
        nlp: Any | None,
        ner_entities: frozenset[str],
        allow: AllowList,
        common_words: frozenset[str],
        organisation_words: frozenset[str],
        places: frozenset[str],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.config_file = config_file
        self.nlp = nlp
        self.ner_entities = ner_entities
        self.allow = allow
        self.common_words = common_words
        self.organisation_words = organisation_words
        self.places = places
        self.language = settings.supported_languages[0]
        self.cache = BlockCache(settings.cache_size)
        self.names = NameRules(
            common_words=common_words,
            organisation_words=organisation_words,
            places=places,
            max_words=settings.person.max_words,
        )
        self.weights = Weights.with_overrides(settings.entity_weights)
        """Strong and linking entities for sensitivity: the defaults plus ``entity_weights``."""
        self.candidates = CandidateFilter(settings, allow, self.names)
        self.ner = NerPass(nlp, settings, ner_entities, self.names)
        self._empty_artifacts = empty_artifacts(self.language)

    @property
    def ner_runs(self) -> int:
        """Blocks passed through NER since start (for metrics and benchmarks)."""
        return self.ner.runs

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_file(cls, path: Path, org_domains: Sequence[str] = ()) -> ContentDetector:
        """Build from a detectors.yaml alone (benchmarks, tests)."""
        return cls.build(load_detectors_settings(path), path, org_domains=org_domains)

    @classmethod
    def build(cls, settings: DetectorsSettings, path: Path, org_domains: Sequence[str] = ()) -> ContentDetector:
        """Build from validated settings and the resolved path of the file they came from (list files are
        relative to its folder). The engine and the spaCy model are loaded here, once per worker."""
        from detectors.recognizers.registry import build_engine

        def lst(rel: str | None) -> frozenset[str]:
            if not rel:
                return frozenset()
            p = Path(rel)
            return frozenset(read_list_file(p if p.is_absolute() else path.parent / p))

        engine, nlp, ner_entities = build_engine(settings, path)
        return cls(
            engine=engine,
            settings=settings,
            config_file=path,
            nlp=nlp,
            ner_entities=ner_entities,
            allow=AllowList.from_settings(settings, path, org_domains),
            common_words=lst(settings.person.common_words_file),
            organisation_words=lst(settings.person.organisation_words_file),
            places=lst(settings.person.places_file),
        )

    # ------------------------------------------------------------------ public API

    def analyze(self, chunks: Sequence[TextChunk], ctx: DetectionContext) -> list[Finding]:
        """Findings for one message; NER only where a PERSON could still change the message's sensitivity."""
        return self._analyze(chunks, ctx, ner="auto" if self.settings.nlp.skip_when_outcome_fixed else "all")

    def analyze_text(self, text: str, *, reveal: bool = True) -> list[Finding]:
        """Findings for one plain text (the ``detect`` command): location ``stdin``, NER on everything."""
        ctx = DetectionContext(sender_address="", sender_name="", run_ner=True, reveal=reveal)
        return self._analyze([TextChunk(location="stdin", text=text, kind="body")], ctx, ner="all")

    # ------------------------------------------------------------------ pipeline

    def _analyze(self, chunks: Sequence[TextChunk], ctx: DetectionContext, ner: str) -> list[Finding]:
        works = [self._prepare(i, c) for i, c in enumerate(chunks)]
        sender = correspondents(ctx.sender_address, ctx.sender_name, ctx.recipients)
        pattern_cands = self.candidates.filtered(works, sender, include_ner=False)
        use_ner = ctx.run_ner and self.nlp is not None
        if use_ner:
            if ner == "all":
                todo = [b for w in works for b in w.blocks]
            else:
                todo = blocks_needing_ner(works, pattern_cands, self.weights)
            self.ner.run(works, [b for b in todo if b.analysis.ner is None])
            # NER output only ever adds to the pattern candidates (its results and the layout names in blocks it
            # read); with no block read by NER, filtering again would give the same list at the same cost
            if any(b.analysis.ner is not None for w in works for b in w.blocks):
                cands = self.candidates.filtered(works, sender, include_ner=True)
            else:
                cands = pattern_cands
        else:
            cands = pattern_cands
        return self._findings(works, cands, ctx)

    def _prepare(self, index: int, chunk: TextChunk) -> ChunkWork:
        layout = self.settings.layout
        norm = normalize(chunk.text)
        is_body = chunk.kind == "body" and (chunk.location.startswith("body") or chunk.location == "stdin")
        zs = zones(
            norm.text,
            signatures=layout.signatures,
            greetings=layout.greetings,
            quoted_headers=layout.quoted_headers,
            signature_max_lines=layout.signature_max_lines,
        ) if is_body else []
        if chunk.kind == "header" and chunk.location.partition("#")[0].lower() in _ADDRESS_HEADER_LOCATIONS:
            zs = [Zone(0, len(norm.text), "header")]
        work = ChunkWork(chunk=chunk, norm=norm, zones=zs)
        for start, end in blocks(norm.text, layout.block_chars):
            text = norm.text[start:end]
            if not text.strip():
                continue
            key = TextChunk(location="", text=text).digest
            analysis = self.cache.get(key)
            if analysis is None:
                analysis = BlockAnalysis(patterns=self._patterns(text))
                self.cache.put(key, analysis)
            work.blocks.append(Block(chunk=index, start=start, end=end, analysis=analysis))
        return work

    def _patterns(self, text: str) -> list[Raw]:
        results = self.engine.analyze(text=text, language=self.language, nlp_artifacts=self._empty_artifacts)
        out = []
        for r in results:
            meta = r.recognition_metadata or {}
            out.append(Raw(r.entity_type, r.start, r.end, float(r.score),
                           str(meta.get(_RECOGNIZER_NAME_KEY, "")),
                           str(meta.get(CATEGORY_KEY, ""))))
        return out

    # ------------------------------------------------------------------ output

    def _findings(self, works: list[ChunkWork], cands: list[Candidate], ctx: DetectionContext) -> list[Finding]:
        out: list[Finding] = []
        for c in cands:
            if c.entity in ("LOCATION", "ORGANIZATION"):
                continue
            w = works[c.chunk]
            value = w.norm.text[c.start : c.end]
            start, end = w.norm.to_original(c.start, c.end)
            masked = f"topic:{c.topic}" if c.entity == "SPECIAL_CATEGORY" and c.topic else redact(c.entity, value)
            out.append(
                Finding(
                    entity=c.entity,
                    score=round(c.score, 4),
                    location=w.chunk.location,
                    start=start,
                    end=end,
                    detector=c.detector.split(":", 1)[0],
                    redacted=masked,
                    fingerprint=_fingerprint(c.entity, value),
                    text=w.chunk.text[start:end] if ctx.reveal else None,
                )
            )
        return out
