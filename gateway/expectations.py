"""Runs sample messages against their expected outcomes (``samples/policy/expectations.yaml``).

Used by ``dlpgate check-config`` and the test suite: a policy edit that changes how its own examples are
judged is caught before it goes live.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from detectors.casedir import read_directory
from detectors.cases import CaseMatcher, CaseSnapshot, key_id
from gateway.config import Config
from gateway.config_errors import ConfigError, read_yaml
from gateway.evaluator import Evaluator
from gateway.facts import ScanResult


@dataclass(frozen=True)
class Expectation:
    file: str
    decision: str
    rules: tuple[str, ...]
    first_time: bool = False
    """Judge the sample as if the sender had never written to its external recipients (a sample carries no
    delivery history); otherwise they count as known."""
    monitor: tuple[str, ...] | None = None
    """The monitor-mode rules expected to fire, when listed."""


def load_expectations(folder: Path) -> list[Expectation]:
    path = folder / "expectations.yaml"
    data: Any = read_yaml(path)
    items = data.get("samples") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError.one(path, "samples", "a list of {file, decision, rules}")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or "file" not in item or "decision" not in item:
            raise ConfigError.one(path, f"samples.{n}", "needs file and decision")
        monitor = item.get("monitor")
        out.append(Expectation(str(item["file"]), str(item["decision"]), tuple(item.get("rules") or ()),
                               first_time=bool(item.get("first_time", False)),
                               monitor=None if monitor is None else tuple(monitor)))
    return out


def sample_cases(folder: Path) -> CaseMatcher | None:
    """The samples' own case directory (``cases: {directory: FILE, key: TEXT}`` in expectations.yaml): a small
    synthetic CSV and a fixed test key, hashed in memory exactly as ``cases import`` does, so the case rules'
    samples are judged as the relay would judge them with that directory imported."""
    path = folder / "expectations.yaml"
    data: Any = read_yaml(path)
    spec = data.get("cases") if isinstance(data, dict) else None
    if spec is None:
        return None
    if not isinstance(spec, dict) or not spec.get("directory") or not spec.get("key"):
        raise ConfigError.one(path, "cases", "{directory: FILE, key: TEXT} (a synthetic directory and a test key)")
    key = str(spec["key"]).encode("utf-8")
    with (folder / str(spec["directory"])).open(encoding="utf-8-sig", newline="") as fh:
        parsed = read_directory(fh, key)
    if parsed.rejected:
        raise ConfigError.one(path, "cases.directory", f"line {parsed.rejected[0].line}: {parsed.rejected[0].reason}")
    snapshot = CaseSnapshot.build("samples", key_id(key), (r.snapshot_row() for r in parsed.adds))
    return CaseMatcher(snapshot, key)


def with_history(facts: ScanResult, *, first_time: bool) -> ScanResult:
    """The history a sample stands for: its external recipients all new, or all known (issue 16)."""
    new = tuple(r.address for r in facts.external_recipients) if first_time else ()
    return replace(facts, first_time=new, first_time_known=True)


def check_expectations(cfg: Config, folder: Path) -> list[str]:
    """One line per sample whose decision or deciding rules differ from what is expected.

    The deciding rules are ``decision.hits``: the engine keeps only the most severe action's rules there
    (outranked ones go to ``decision.outranked``), which is what ``rules:`` in the file lists."""
    evaluator = Evaluator(cfg, cases=sample_cases(folder))
    problems = []
    for exp in load_expectations(folder):
        raw = (folder / exp.file).read_bytes()
        facts, decision = evaluator.evaluate(raw)
        facts = with_history(facts, first_time=exp.first_time)
        decision = evaluator.decide(facts)
        deciding = sorted(set(decision.rule_ids))
        monitored = sorted({h.rule_id for h in decision.monitor})
        if exp.monitor is not None and monitored != sorted(exp.monitor):
            problems.append(f"{exp.file}: expected monitor {sorted(exp.monitor)}, got {monitored}")
        if decision.action.label != exp.decision or deciding != sorted(exp.rules):
            problems.append(
                f"{exp.file}: expected {exp.decision} {sorted(exp.rules)}, got {decision.action.label} {deciding} "
                f"(sensitivity {facts.sensitivity.label}, entities "
                f"{sorted({f.entity for f in facts.findings})})"
            )
    return problems
