"""Throughput of dlpgate's content detection beside stock Presidio, on the same messages, in one run.

One process pinned to one core, BLAS threads at 1. Messages are fed in corpus order (replies after the
messages they quote), the way one gateway worker would see them. dlpgate runs as the relay runs it
(``ContentDetector.analyze`` with NER allowed: every message treated as going to an external recipient); stock
Presidio is ``AnalyzerEngine`` as shipped, with the same spaCy model, called once per text chunk. Recall is
measured in the same run: entity recall over the labelled entities, and the share of protected messages
(personal or special category) that dlpgate assesses as protected.

    .venv/bin/python bench/detect.py [--corpus samples/corpus/corpus.jsonl] [--repeat 1] [--no-stock]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except OSError:
        pass

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accuracy import (
    ROOT,
    Score,
    build_stock,
    chunks_of,
    context_of,
    labels_of,
    load_corpus,
    stock_spans,
    word_count,
)

from detectors.content import ContentDetector
from detectors.findings import Finding
from detectors.sensitivity import assess_sensitivity


def run_dlpgate(
    detector: ContentDetector, corpus: list[dict], entities: set[str], mode: str
) -> tuple[float, Score, int]:
    score = Score()
    protected_hits = 0
    detector.cache = type(detector.cache)(detector.settings.cache_size if mode != "cold" else 0)
    t0 = time.perf_counter()
    for rec in corpus:
        chunks = chunks_of(rec)
        ctx = context_of(rec)
        findings = detector._analyze(chunks, ctx, ner="all") if mode == "full" else detector.analyze(chunks, ctx)
        elapsed_marker = time.perf_counter()
        score.add(labels_of(rec), [(f.location, f.entity, f.start, f.end) and _span(f) for f in findings], entities)
        if rec["expected"] != "none" and assess_sensitivity(findings).label != "none":
            protected_hits += 1
        t0 += time.perf_counter() - elapsed_marker  # scoring time is not detection time
    return time.perf_counter() - t0, score, protected_hits


def _span(f):  # type: ignore[no-untyped-def]
    from accuracy import Span

    return Span(f.location, f.entity, f.start, f.end)


def main() -> int:
    ap = argparse.ArgumentParser(description="dlpgate vs stock Presidio throughput (one core)")
    ap.add_argument("--corpus", default=str(ROOT / "samples/corpus/corpus.jsonl"))
    ap.add_argument("--config", default=str(ROOT / "config"))
    ap.add_argument("--repeat", type=int, default=1, help="passes over the corpus (dlpgate cache kept warm)")
    ap.add_argument("--no-stock", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="only the first N messages")
    args = ap.parse_args()

    from gateway.config import load
    from gateway.scan import content_detector

    corpus = load_corpus(Path(args.corpus))
    if args.limit:
        corpus = corpus[: args.limit]
    corpus = corpus * args.repeat
    entities = {lab["entity"] for r in corpus for lab in r["labels"]}
    words = sum(word_count(r) for r in corpus)
    protected = sum(1 for r in corpus if r["expected"] != "none")
    detector = content_detector(load(args.config))
    run_dlpgate(detector, corpus[:20], entities, "full")  # warm up: first-use compilation, lazy imports

    rows = []
    for mode, label in (("gateway", "dlpgate (relay: cache, NER when needed)"),
                        ("cold", "dlpgate (no cache)"),
                        ("full", "dlpgate (NER on every block)")):
        runs_before = detector.ner_runs
        seconds, score, hits = run_dlpgate(detector, corpus, entities, mode)
        rows.append((label, seconds, score.recall(), score.recall("PERSON"), hits,
                     detector.ner_runs - runs_before))
    stock_row = None
    if not args.no_stock:
        stock = build_stock()
        stock.analyze(text="warm up", language="en")
        score = Score()
        t0 = time.perf_counter()
        spans = []
        for rec in corpus:
            spans.append(stock_spans(stock, rec))
        seconds = time.perf_counter() - t0
        hits = 0
        for rec, sp in zip(corpus, spans, strict=True):
            score.add(labels_of(rec), sp, entities)
            # the same message-level rules applied to stock Presidio's findings, for comparison
            as_findings = [Finding(s.entity, 1.0, s.location, s.start, s.end, "stock", "") for s in sp]
            if rec["expected"] != "none" and assess_sensitivity(as_findings).label != "none":
                hits += 1
        stock_row = ("stock Presidio (AnalyzerEngine, same model)", seconds, score.recall(), score.recall("PERSON"),
                     hits)

    print(f"{len(corpus)} messages, {words} words, one core "
          f"(affinity {sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'})\n")
    head = (f"{'engine':44} {'msgs/s':>8} {'words/s':>9} {'x stock':>8} {'entity R':>9} {'PERSON R':>9} "
            f"{'protected R':>12} {'NER blocks':>10}")
    print(head)
    print("-" * len(head))
    base = stock_row[1] if stock_row else None
    for label, seconds, recall, person_recall, hits, ner_blocks in rows:
        ratio = f"{base / seconds:7.1f}x" if base else "     - "
        print(f"{label:44} {len(corpus) / seconds:8.1f} {words / seconds:9.0f} {ratio:>8} {recall:9.3f} "
              f"{person_recall:9.3f} {hits / max(protected, 1):12.3f} {ner_blocks:>10}")
    if stock_row:
        label, seconds, recall, person_recall, hits = stock_row
        print(f"{label:44} {len(corpus) / seconds:8.1f} {words / seconds:9.0f} {'1.0x':>8} {recall:9.3f} "
              f"{person_recall:9.3f} {hits / max(protected, 1):12.3f} {'all':>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
