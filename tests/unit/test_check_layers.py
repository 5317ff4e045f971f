"""The import-layer checker that scripts/test runs finds each kind of broken contract."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", REPO / "scripts" / "check_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_clean_tree_passes(tmp_path: Path) -> None:
    """Downward imports, leaf types and TYPE_CHECKING imports are all allowed."""
    _tree(tmp_path, {
        "gateway/__init__.py": "", "detectors/__init__.py": "",
        "gateway/submission.py": "X = 1\n",
        "gateway/store/__init__.py": "from gateway.submission import X\n",
        "gateway/pipeline.py": "from gateway.store import X\n",
        "gateway/policy/__init__.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gateway.pipeline import X\n"),
    })
    assert _checker().check(tmp_path) == []


def test_each_broken_contract_is_reported(tmp_path: Path) -> None:
    """An upward import (even inside a function), the store sending mail, detectors reaching into gateway,
    a cycle, Presidio internals outside the adapter and an oversized module are each reported."""
    _tree(tmp_path, {
        "gateway/__init__.py": "", "detectors/__init__.py": "",
        "gateway/upstream.py": "import gateway.store.core\n",
        "gateway/store/__init__.py": "",
        "gateway/store/core.py": "def send():\n    from gateway.upstream import x\n",
        "gateway/config.py": "X = 1\n",
        "detectors/content.py": "from gateway.config import X\nfrom presidio_analyzer.nlp_engine import NlpArtifacts\n",
        "gateway/policy/__init__.py": "x = 1\n" * 700,
    })
    problems = "\n".join(_checker().check(tmp_path))
    assert "gateway.store must not import gateway.upstream" in problems
    assert "layer 'store' imports gateway.upstream" in problems
    assert "detectors/ imports gateway.config" in problems
    assert "import cycle: gateway.store.core -> gateway.upstream" in problems
    assert "Presidio internals" in problems
    assert "gateway/policy/__init__.py: 700 lines" in problems
