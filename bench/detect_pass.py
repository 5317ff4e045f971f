"""One cold detection pass over corpus messages, for an instruction count under callgrind (see detect_cpu.sh).

Wall-clock throughput (``bench/detect.py``) swings by a third on a shared machine; the number of instructions one
pass executes does not. The model load and a warm-up run uninstrumented; the script then writes ``FLAG.ready``
(its pid) and waits for ``FLAG`` before the measured pass, so that ``callgrind_control -i on`` counts only the pass.
It imports the detectors of the tree it is given (``TREE``), so two trees (say, main and a baseline worktree) can be
compared with the same harness.

    TREE FLAG   (environment: LIMIT=N messages, default all)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

tree, flag = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
sys.path[:0] = [str(tree), str(tree / "bench")]
os.chdir(tree)

from accuracy import ROOT, chunks_of, context_of, load_corpus  # noqa: E402

from gateway.config import load  # noqa: E402

try:
    from gateway.scan import content_detector
except ImportError:  # trees from before the layering issue
    from detectors.content import ContentDetector

    content_detector = ContentDetector.from_config

corpus = load_corpus(ROOT / "samples/corpus/corpus.jsonl")
limit = int(os.environ.get("LIMIT", "0")) or len(corpus)
detector = content_detector(load(str(tree / "config")))
work = [(chunks_of(r), context_of(r)) for r in corpus[:limit]]
for chunks, ctx in work[:30]:
    detector.analyze(chunks, ctx)
detector.cache = type(detector.cache)(0)
ready, done = Path(f"{flag}.ready"), Path(f"{flag}.done")
ready.write_text(str(os.getpid()))
while not flag.exists():
    time.sleep(0.2)
for chunks, ctx in work:
    detector.analyze(chunks, ctx)
done.write_text("1")
while done.exists():
    time.sleep(0.2)
