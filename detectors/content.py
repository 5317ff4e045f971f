"""Content detection: a Presidio ``AnalyzerEngine`` built once per worker from ``config/detectors.yaml``.

Per message the work is, in order of cost:

1. normalise each text (full-width digits, invisible characters, entities, quote prefixes) keeping an offset map;
2. cut it into blocks at quoted-message boundaries and look each block up in an LRU cache by content hash, so a
   reply chain's history and a re-sent attachment are analysed once;
3. run the pattern recognizers (Presidio's and ours) through ``AnalyzerEngine.analyze`` with empty NLP
   artifacts: no spaCy at all;
4. drop what is not a finding: correspondents' names and contact details (greetings, signatures, quoted
   headers, the envelope sender), the organisation's own numbers and addresses, entities never reported;
5. run spaCy NER (only the ``ner`` pipe, batched with ``nlp.pipe``) on the blocks where a PERSON could still
   change the message's sensitivity, then clean its PERSON spans (postcodes, places, organisations, common
   words) and treat name-shaped ORG spans as low-score PERSON candidates.

``analyze_text`` (the ``detect`` command) always runs NER on everything, so its output shows every entity.
"""

from __future__ import annotations

import hashlib
import os
import re
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import phonenumbers

from detectors import recognizers as _recognizers  # registers our classes; makes tldextract offline
from detectors.findings import Finding
from detectors.normalize import Normalized, normalize
from detectors.recognizers.layout import Zone, blocks, zones
from detectors.recognizers.special import CATEGORY_KEY
from detectors.redact import redact
from detectors.sensitivity import assess_sensitivity
from detectors.settings import DetectorsSettings, load_detectors_settings
from gateway.config import Config
from gateway.config_errors import ConfigError, ConfigProblem, read_list_file
from gateway.facts import Sensitivity
from gateway.mime.model import TextChunk

_ = _recognizers

NER_ENTITIES = ("PERSON", "ORGANIZATION", "LOCATION")
_SUPPRESSED_IN: dict[str, frozenset[str]] = {
    "signature": frozenset({"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "UK_POSTCODE", "UK_STREET_ADDRESS",
                            "LOCATION"}),
    "greeting": frozenset({"PERSON"}),
    "header": frozenset({"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"}),
}
# When two different entities claim the same characters, the one earlier here wins.
_PRIORITY = (
    "UK_NHS", "UK_NINO", "UK_FAMILY_CASE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "UK_BANK_ACCOUNT", "UK_PASSPORT",
    "UK_DRIVING_LICENCE", "DATE_OF_BIRTH", "EMAIL_ADDRESS", "PHONE_NUMBER", "UK_STREET_ADDRESS", "UK_POSTCODE",
    "PERSON", "LOCATION",
)
_NESTING_ALLOWED = frozenset({("UK_STREET_ADDRESS", "UK_POSTCODE"), ("UK_POSTCODE", "UK_STREET_ADDRESS")})
_NEVER_CONFLICT = frozenset({"SPECIAL_CATEGORY", "PROTECTIVE_MARKING"})
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "di", "del", "du", "la", "le", "bin", "binti",
                        "ibn", "al", "el", "ap", "ben", "dos", "das", "y"})
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lady", "lord", "master"})
_HEADER_NAMES = re.compile(r"^[ \t]*(?:From|To|Cc|Bcc|Reply-To)[ \t]*:[ \t]*(.+)$", re.MULTILINE | re.IGNORECASE)
_FINGERPRINT_KEY = os.urandom(16)
_SENTENCE = re.compile(r"[^\n]+?(?:(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)[.!?](?=\s)|(?=\n)|$)")
_CAPITALISED = re.compile(r"\b[^\W\d_][^\W\d_'’\-]*")
_CLAUSE_SPLIT = re.compile(r"[.!?;]\s")
_HOME_CUE = re.compile(
    r"\b(?:lives?|living|lived|resides?|residing|home|moved|moving|stays?|staying|tenancy|her\s+address|"
    r"his\s+address|their\s+address|address\s*:)",
    re.IGNORECASE,
)
# Words before an address that make it a place of business rather than someone's home.
_VENUE_CUE = re.compile(
    r"\b(?:held|hosted|venue|take[s]?\s+place|taking\s+place|located|based|our\s+(?:new\s+)?(?:office|offices|address|"
    r"premises|site|building)|office[s]?\s+(?:at|is|are)|head\s+office|registered\s+office|deliver(?:y|ed)?|"
    r"invoice\s+address|billing|reception|hotel|conference|meet(?:ing)?\s+(?:you\s+)?at|parking|car\s+park|"
    r"trading\s+address|business\s+address|return\s+address|collection)\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# A run of words inside an NER span, cut at punctuation that never sits inside a name (hyphens and
# apostrophes inside words are fine: Smith-Jones, O'Brien).
_NAME_PIECE = re.compile(r"[^\s,;:()\[\]{}|/\\\"<>!?]+(?:[ \t]+(?![-–][ \t])[^\s,;:()\[\]{}|/\\\"<>!?]+)*")


@dataclass(frozen=True)
class DetectionContext:
    """Who is sending, and what the caller wants back."""

    sender_address: str
    sender_name: str
    run_ner: bool = True
    """False for internal-only mail: NER never runs (no decision depends on names there)."""
    reveal: bool = False
    """Put the matched text into each Finding (``scan --reveal``, ``detect``)."""


@dataclass(slots=True)
class _Raw:
    """One result inside a block (block-relative offsets into the normalised text)."""

    entity: str
    start: int
    end: int
    score: float
    detector: str
    topic: str = ""


@dataclass(slots=True)
class _BlockAnalysis:
    patterns: list[_Raw]
    ner: list[_Raw] | None = None


@dataclass(slots=True)
class _Block:
    chunk: int
    start: int
    end: int
    analysis: _BlockAnalysis


@dataclass(slots=True)
class _ChunkWork:
    chunk: TextChunk
    norm: Normalized
    zones: list[Zone]
    blocks: list[_Block] = field(default_factory=list)


@dataclass(slots=True)
class _Candidate:
    chunk: int
    entity: str
    start: int
    end: int
    score: float
    detector: str
    topic: str = ""


class _LRU:
    """A bounded mapping that forgets the least recently used entry."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, _BlockAnalysis] = OrderedDict()

    def get(self, key: str) -> _BlockAnalysis | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: str, value: _BlockAnalysis) -> None:
        if self.size <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def _fingerprint(entity: str, value: str) -> str:
    canonical = " ".join(_WORDS.findall(value.lower())) if entity == "PERSON" else re.sub(r"\W", "", value).upper()
    return hashlib.blake2b(f"{entity}:{canonical}".encode(), key=_FINGERPRINT_KEY, digest_size=8).hexdigest()


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(text)]


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
        self.cache = _LRU(settings.cache_size)
        self.ner_runs = 0
        """Blocks passed through NER since start (for metrics and benchmarks)."""
        from presidio_analyzer.nlp_engine import NlpArtifacts

        self._empty_artifacts = NlpArtifacts(
            entities=[], tokens=cast(Any, None), tokens_indices=[], lemmas=[], nlp_engine=None,
            language=self.language,
        )
        ner_cfg = settings.nlp_configuration.ner_model_configuration
        self._label_map = dict(ner_cfg.model_to_presidio_entity_mapping)
        self._ignore = frozenset(ner_cfg.labels_to_ignore)
        self._low = frozenset(ner_cfg.low_score_entity_names)
        self._low_mult = ner_cfg.low_confidence_score_multiplier
        self._ner_score = ner_cfg.default_score

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_config(cls, cfg: Config) -> ContentDetector:
        """Build from the loaded configuration (the engine is built here, once per worker)."""
        path = cfg.resolve(cfg.gateway.files.detectors)
        return cls.build(cfg.detectors, path, org_domains=cfg.gateway.organisation.domains)

    @classmethod
    def from_file(cls, path: Path, org_domains: Sequence[str] = ()) -> ContentDetector:
        """Build from a detectors.yaml alone (benchmarks, tests)."""
        return cls.build(load_detectors_settings(path), path, org_domains=org_domains)

    @classmethod
    def build(cls, settings: DetectorsSettings, path: Path, org_domains: Sequence[str] = ()) -> ContentDetector:
        from detectors.recognizers.registry import build_engine

        folder = path.parent

        def lst(rel: str | None) -> frozenset[str]:
            if not rel:
                return frozenset()
            p = Path(rel)
            return frozenset(read_list_file(p if p.is_absolute() else folder / p))

        engine, nlp, ner_entities = build_engine(settings, path)
        values: list[str] = list(settings.allow_list.values)
        for i, rel in enumerate(settings.allow_list.files):
            p = Path(rel)
            full = p if p.is_absolute() else folder / p
            try:
                values.extend(line.split("#", 1)[0].strip() for line in full.read_text("utf-8").splitlines())
            except OSError:
                raise ConfigError(ConfigProblem(str(path), f"allow_list.files.{i}", f"cannot read {full}")) from None
        return cls(
            engine=engine,
            settings=settings,
            config_file=path,
            nlp=nlp,
            ner_entities=ner_entities,
            allow=AllowList([v for v in values if v], org_domains),
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
        sender = self._sender_allow(ctx)
        pattern_cands = self._filtered(works, sender, include_ner=False)
        use_ner = ctx.run_ner and self.nlp is not None
        if use_ner:
            if ner == "all":
                todo = [b for w in works for b in w.blocks]
            else:
                todo = self._blocks_needing_ner(works, pattern_cands)
            self._run_ner(works, [b for b in todo if b.analysis.ner is None])
            cands = self._filtered(works, sender, include_ner=True)
        else:
            cands = pattern_cands
        return self._findings(works, cands, ctx)

    def _prepare(self, index: int, chunk: TextChunk) -> _ChunkWork:
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
        work = _ChunkWork(chunk=chunk, norm=norm, zones=zs)
        for start, end in blocks(norm.text, layout.block_chars):
            text = norm.text[start:end]
            if not text.strip():
                continue
            key = TextChunk(location="", text=text).digest
            analysis = self.cache.get(key)
            if analysis is None:
                analysis = _BlockAnalysis(patterns=self._patterns(text))
                self.cache.put(key, analysis)
            work.blocks.append(_Block(chunk=index, start=start, end=end, analysis=analysis))
        return work

    def _patterns(self, text: str) -> list[_Raw]:
        from presidio_analyzer import RecognizerResult

        results = self.engine.analyze(text=text, language=self.language, nlp_artifacts=self._empty_artifacts)
        out = []
        for r in results:
            meta = r.recognition_metadata or {}
            out.append(_Raw(r.entity_type, r.start, r.end, float(r.score),
                            str(meta.get(RecognizerResult.RECOGNIZER_NAME_KEY, "")),
                            str(meta.get(CATEGORY_KEY, ""))))
        return out

    # ------------------------------------------------------------------ NER

    def _blocks_needing_ner(self, works: list[_ChunkWork], cands: list[_Candidate]) -> list[_Block]:
        """Blocks where a PERSON (anywhere in them, or next to any finding in them) would raise sensitivity.

        ``assess_sensitivity`` is monotone in PERSON findings, so if a PERSON placed at every finding of a block
        and at its start cannot raise the level, no name NER could find in that block can either.
        """
        findings = [self._bare_finding(works, c) for c in cands]
        current = assess_sensitivity(findings)
        if current == Sensitivity.SPECIAL_CATEGORY:
            return []
        by_chunk: dict[int, list[_Candidate]] = {}
        for c in cands:
            by_chunk.setdefault(c.chunk, []).append(c)
        need: list[_Block] = []
        for w in works:
            loc = w.chunk.location
            mine = sorted(by_chunk.get(w.blocks[0].chunk, []) if w.blocks else [], key=lambda c: c.start)
            starts = [c.start for c in mine]
            for b in w.blocks:
                lo, hi = bisect_left(starts, b.start), bisect_left(starts, b.end)
                spots = {b.start} | {c.start for c in mine[lo:hi]} | {c.end for c in mine[lo:hi]}
                synthetic = [Finding("PERSON", 1.0, loc, x, x, "hypothetical", "") for x in spots]
                if assess_sensitivity(findings + synthetic) > current:
                    need.append(b)
        return need

    def _ner_units(self, text: str) -> list[tuple[int, int]]:
        """Spans of a block worth showing to NER: sentences with a capitalised word that is not a common word,
        outside greetings, signatures and quoted headers (whose names are never findings). A PERSON that
        survives cleaning always has such a word, so this loses nothing NER could contribute; it is the NER
        input, not a filter on its output."""
        layout = self.settings.layout
        skip = [z for z in zones(text, signatures=layout.signatures, greetings=layout.greetings,
                                 quoted_headers=layout.quoted_headers,
                                 signature_max_lines=layout.signature_max_lines)]
        units: list[tuple[int, int]] = []
        for m in _SENTENCE.finditer(text):
            s, e = m.span()
            if any(z.start <= s < z.end for z in skip):
                continue
            if not any(w[:1].isupper() and w.lower() not in self.common_words and not w.isupper()
                       for w in _CAPITALISED.findall(text, s, e)):
                continue
            if units and not text[units[-1][1] : s].strip():
                units[-1] = (units[-1][0], e)
            else:
                units.append((s, e))
        return units

    def _run_ner(self, works: list[_ChunkWork], todo: list[_Block]) -> None:
        if not todo or self.nlp is None:
            return
        jobs: list[tuple[_Block, str, int, int]] = []
        for b in todo:
            text = works[b.chunk].norm.text[b.start : b.end]
            b.analysis.ner = []
            self.ner_runs += 1
            jobs.extend((b, text, s, e) for s, e in self._ner_units(text))
        docs = self.nlp.pipe((text[s:e] for _b, text, s, e in jobs), batch_size=self.settings.nlp.batch_size)
        raws_by_block: dict[int, list[_Raw]] = {}
        for (b, _text, s, _e), doc in zip(jobs, docs, strict=True):
            raws = raws_by_block.setdefault(id(b), [])
            for ent in doc.ents:
                label = ent.label_
                mapped = self._label_map.get(label, label)
                if label in self._ignore or mapped in self._ignore or mapped not in self.ner_entities:
                    continue
                score = self._ner_score * (self._low_mult if mapped in self._low else 1.0)
                raws.append(_Raw(mapped, s + ent.start_char, s + ent.end_char, score, "SpacyRecognizer"))
        for b in todo:
            text = works[b.chunk].norm.text[b.start : b.end]
            b.analysis.ner = self._clean_persons(text, raws_by_block.get(id(b), []), b.analysis.patterns)

    def _clean_persons(self, text: str, raws: list[_Raw], patterns: list[_Raw]) -> list[_Raw]:
        """Keep PERSON spans that look like a personal name; turn name-shaped ORG spans into PERSON."""
        out: list[_Raw] = []
        taken = [(p.start, p.end) for p in patterns if p.entity not in _NEVER_CONFLICT]
        for r in raws:
            if r.entity == "LOCATION":
                out.append(r)
                continue
            span = self._trim_name(text, r.start, r.end)
            if span is None:
                continue
            start, end = span
            if any(s < end and start < e for s, e in taken):
                continue
            words = text[start:end].split()
            if r.entity == "ORGANIZATION":
                if len(words) < 2:
                    continue
                out.append(_Raw("PERSON", start, end, r.score, "SpacyRecognizer:ORG"))
            elif r.entity == "PERSON":
                out.append(_Raw("PERSON", start, end, r.score, "SpacyRecognizer"))
        return out

    def _trim_name(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        """The name inside an NER span, or None: cut at punctuation, common words off both ends, shape checks."""
        span = text[start:end]
        pieces = [m for m in _NAME_PIECE.finditer(span) if any(ch.isalpha() for ch in m.group())]
        if not pieces:
            return None
        piece = pieces[0]
        for m in pieces:
            if any(w[:1].isupper() and w.lower() not in self.common_words for w in m.group().split()):
                piece = m
                break
        words = list(re.finditer(r"\S+", piece.group()))
        base = start + piece.start()

        def bare(m: re.Match[str]) -> str:
            return m.group().strip(".'’").removesuffix("'s").removesuffix("’s")

        while words and (bare(words[-1]).lower() in self.common_words or not bare(words[-1])):
            words.pop()
        while words and (bare(words[0]).lower() in self.common_words or bare(words[0]).lower() in _TITLES
                         or not bare(words[0])):
            words.pop(0)
        if not words or len(words) > self.settings.person.max_words:
            return None
        names = [bare(w) for w in words]
        if not self.plausible_name(names):
            return None
        s = base + words[0].start()
        last = words[-1].group()
        e = base + words[-1].start() + len(last.rstrip(".'’").removesuffix("'s").removesuffix("’s"))
        return s, e

    def plausible_name(self, names: list[str], *, check_places: bool = True) -> bool:
        """Capitalised words (or particles), no digits, no organisation word, not a known place."""
        if check_places and " ".join(n.lower() for n in names) in self.places:
            return False
        has_proper = False
        for n in names:
            low = n.lower()
            if not n or any(ch.isdigit() for ch in n) or "@" in n or "/" in n:
                return False
            if low in self.organisation_words:
                return False
            if low in _PARTICLES:
                continue
            if not n[0].isupper():
                return False
            if len(n) > 1 and any(ch.islower() for ch in n):
                has_proper = True
        return has_proper

    # ------------------------------------------------------------------ filtering

    def _sender_allow(self, ctx: DetectionContext) -> tuple[str, frozenset[str]]:
        names = set(_words(ctx.sender_name))
        local = ctx.sender_address.partition("@")[0]
        names |= {w for w in re.split(r"[._\-+0-9]+", local.lower()) if len(w) > 1}
        return ctx.sender_address.lower().strip(), frozenset(w for w in names if len(w) > 1)

    def _filtered(
        self, works: list[_ChunkWork], sender: tuple[str, frozenset[str]], *, include_ner: bool
    ) -> list[_Candidate]:
        report = set(self.settings.report_entities)
        thresholds = self.settings.thresholds
        default_threshold = thresholds.get("default", 0.5)
        out: list[_Candidate] = []
        for ci, w in enumerate(works):
            text = w.norm.text
            raw: list[_Candidate] = []
            for b in w.blocks:
                sources = list(b.analysis.patterns)
                if include_ner and b.analysis.ner is not None:
                    sources.extend(b.analysis.ner)
                raw.extend(_Candidate(ci, r.entity, b.start + r.start, b.start + r.end, r.score, r.detector,
                                      r.topic) for r in sources)
            correspondents = self._correspondent_words(text, w.zones, raw)
            business = self._business_addresses(text, raw)
            zone_starts = [z.start for z in w.zones]
            kept: list[_Candidate] = []
            for c in raw:
                if c.entity not in report or c.score < thresholds.get(c.entity, default_threshold):
                    continue
                if self._in_zone(c, w.zones, zone_starts) or (c.start, c.end) in business:
                    continue
                value = text[c.start : c.end]
                if self.allow.allows(c.entity, value):
                    continue
                if c.entity == "EMAIL_ADDRESS" and sender[0] and value.lower() == sender[0]:
                    continue
                if c.entity == "PERSON":
                    ws = set(_words(value)) - _TITLES
                    if ws and (ws <= sender[1] or ws <= correspondents):
                        continue
                kept.append(c)
            out.extend(self._resolve_overlaps(kept))
        return out

    def _business_addresses(self, text: str, raw: list[_Candidate]) -> set[tuple[int, int]]:
        """Addresses (and postcodes) introduced as a venue or an organisation's premises: not personal data."""
        out: set[tuple[int, int]] = set()
        addresses = sorted((c for c in raw if c.entity == "UK_STREET_ADDRESS"), key=lambda c: c.start)
        address_starts = [a.start for a in addresses]
        longest = max((a.end - a.start for a in addresses), default=0)
        for c in raw:
            if c.entity not in ("UK_STREET_ADDRESS", "UK_POSTCODE"):
                continue
            anchor = c.start
            if c.entity == "UK_POSTCODE":
                lo = bisect_left(address_starts, c.start - longest)
                hi = bisect_right(address_starts, c.start)
                outer = next((a for a in addresses[lo:hi] if a.start <= c.start and c.end <= a.end), None)
                if outer is not None:
                    anchor = outer.start
            # the clause that introduces the address: back to a sentence end, a blank line or a label
            window = text[max(0, anchor - 160) : anchor]
            clause = re.split(r"[.!?;]\s|\n[ \t]*\n", window)[-1][-120:]
            if _HOME_CUE.search(clause):
                continue
            tail = _words(clause)[-6:]
            if _VENUE_CUE.search(clause) or any(
                w in self.organisation_words for w in tail if w not in ("road", "street", "avenue")
            ):
                out.add((c.start, c.end))
        return out

    @staticmethod
    def _in_zone(c: _Candidate, zs: list[Zone], zone_starts: list[int]) -> bool:
        """Inside a greeting, signature or quoted header whose kind suppresses this entity (zones are disjoint
        within a kind and few overlap, so only the last few zones starting before the finding can hold it)."""
        i = bisect_right(zone_starts, c.start)
        for z in zs[max(0, i - 3) : i]:
            if z.start <= c.start < z.end and c.entity in _SUPPRESSED_IN[z.kind]:
                return True
        return False

    def _correspondent_words(self, text: str, zs: list[Zone], raw: list[_Candidate]) -> frozenset[str]:
        """Name words of the people in greetings, signatures and quoted headers of this text."""
        words: set[str] = set()
        persons = sorted((c for c in raw if c.entity == "PERSON"), key=lambda c: c.start)
        person_starts = [c.start for c in persons]
        for z in zs:
            if z.kind == "header":
                for m in _HEADER_NAMES.finditer(text, z.start, z.end):
                    for part in re.split(r"[;,]", m.group(1)):
                        display = re.sub(r"<[^>]*>|\S+@\S+|[\"']", " ", part)
                        words.update(w for w in _words(display) if len(w) > 1)
            else:
                for c in persons[bisect_left(person_starts, z.start) : bisect_left(person_starts, z.end)]:
                    words.update(w for w in _words(text[c.start : c.end]) if len(w) > 1)
                if z.kind == "signature":
                    first = next((ln for ln in text[z.start : z.end].splitlines()[1:] if ln.strip()), "")
                    cand = first.strip()
                    if 0 < len(cand.split()) <= 4 and all(p[:1].isupper() for p in cand.split()):
                        words.update(w for w in _words(cand) if len(w) > 1)
                if z.kind == "greeting":
                    line = text[z.start : z.end]
                    words.update(w.lower() for w in _WORDS.findall(line) if w[:1].isupper())
        return frozenset(words - self.common_words - _TITLES)

    @staticmethod
    def _resolve_overlaps(cands: list[_Candidate]) -> list[_Candidate]:
        """Where different entities claim the same characters, the higher-priority one wins (a postcode may
        sit inside an address). Accepted spans are kept sorted so each check looks only at near neighbours."""
        rank = {e: i for i, e in enumerate(_PRIORITY)}
        ordered = sorted(cands, key=lambda c: (rank.get(c.entity, len(rank)), -c.score, c.start, -(c.end - c.start)))
        accepted: list[_Candidate] = []
        starts: list[int] = []
        longest = 0
        for c in ordered:
            lo = bisect_left(starts, c.start - longest)
            hi = bisect_left(starts, c.end)
            clash = False
            for a in accepted[lo:hi]:
                if not (a.start < c.end and c.start < a.end):
                    continue
                if c.entity in _NEVER_CONFLICT or a.entity in _NEVER_CONFLICT:
                    if a.entity == c.entity:
                        clash = True
                        break
                    continue
                if (a.entity, c.entity) in _NESTING_ALLOWED:
                    continue
                clash = True
                break
            if not clash:
                i = bisect_left(starts, c.start)
                starts.insert(i, c.start)
                accepted.insert(i, c)
                longest = max(longest, c.end - c.start)
        accepted.sort(key=lambda c: (c.start, c.end))
        return accepted

    # ------------------------------------------------------------------ output

    def _bare_finding(self, works: list[_ChunkWork], c: _Candidate) -> Finding:
        return Finding(c.entity, c.score, works[c.chunk].chunk.location, c.start, c.end, c.detector, "")

    def _findings(self, works: list[_ChunkWork], cands: list[_Candidate], ctx: DetectionContext) -> list[Finding]:
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
