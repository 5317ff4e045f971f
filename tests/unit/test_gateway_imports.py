"""The gateway process never loads the scanner's libraries: Presidio and spaCy live in the scan workers only
(peak RSS with scanning off stays near 100 MiB, not 230)."""

from __future__ import annotations

import subprocess
import sys

from detectors import cases, names


def test_gateway_process_imports_no_presidio_or_spacy() -> None:
    code = (
        "import sys, gateway.app, gateway.pipeline, gateway.runtime, gateway.evaluator, gateway.commands.serve\n"
        "print(sorted(m for m in ('spacy', 'presidio_analyzer', 'thinc', 'detectors.content') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout


def test_case_words_match_name_words() -> None:
    assert cases.WORDS.pattern == names.WORDS.pattern
