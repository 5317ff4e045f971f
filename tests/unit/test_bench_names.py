"""Bench scripts run as ``python bench/X.py``, which puts bench/ first on sys.path: a file there named like a
standard module (``queue.py``) would shadow it for every bench and break them all at import."""

from __future__ import annotations

import sys
from pathlib import Path


def test_no_bench_script_shadows_a_standard_module() -> None:
    bench = Path(__file__).resolve().parents[2] / "bench"
    names = {p.stem for p in bench.glob("*.py")}
    assert names, "bench/ is empty?"
    assert not names & set(sys.stdlib_module_names)
