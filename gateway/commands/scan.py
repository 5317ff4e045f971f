"""`dlpgate scan FILE|DIR ...`: run messages through the whole decision pipeline and send nothing.

The output is the contract in DESIGN.md (JSON Lines with ``--json``); it is how the security team tests a
policy change against real messages before it goes live.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.cli import add_config_argument


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("scan", help="scan .eml files or folders and print the decision (sends nothing)")
    add_config_argument(p)
    p.add_argument("paths", nargs="+", metavar="FILE|DIR")
    p.add_argument("--json", action="store_true", help="one JSON object per message (JSON Lines)")
    p.add_argument("--reveal", action="store_true", help="add the matched texts to each finding")
    p.add_argument("--mail-from", metavar="ADDR", help="envelope sender (default: From header)")
    p.add_argument("--rcpt", action="append", metavar="ADDR", help="envelope recipient (repeat)")
    p.add_argument("--cases", metavar="CSV", default=None,
                   help="judge with this case-directory CSV (hashed in memory with the configured key) instead of "
                   "the imported directory: try a directory extract before importing it")
    p.set_defaults(func=run)


def iter_files(paths: list[str]) -> Iterator[Path]:
    for name in paths:
        p = Path(name)
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        else:
            yield p


def result_record(path: Path, facts: Any, decision: Any, reveal: bool, policy: Any = None) -> dict[str, Any]:
    by_entity: dict[str, dict[str, Any]] = {}
    for f in facts.findings:
        e = by_entity.setdefault(
            f.entity, {"entity": f.entity, "count": 0, "max_score": 0.0, "locations": [], "texts": []}
        )
        e["count"] += 1
        e["max_score"] = round(max(e["max_score"], f.score), 3)
        loc = f.location.split("#", 1)[0]
        if loc not in e["locations"]:
            e["locations"].append(loc)
        if reveal and f.text is not None and f.text not in e["texts"]:
            e["texts"].append(f.text)
    findings = []
    for e in by_entity.values():
        if not reveal:
            e.pop("texts")
        findings.append(e)
    return {
        "file": str(path),
        "decision": decision.action.label,
        "rules": decision.rule_ids,
        "reasons": decision.reasons(),
        "monitor": [h.rule_id for h in decision.monitor],
        "sensitivity": facts.sensitivity.label,
        "findings": findings,
        "unscannable": [{"location": u.location, "reason": u.reason} for u in facts.unscannable],
        "recipients": [{"address": r.address, "class": r.cls} for r in facts.recipients],
        "forwarded": facts.forwarded,
        "encrypted": facts.encrypted,
        "false_encryption_claim": [{"location": n.location, "claim": n.detail} for n in facts.false_encryption_claims],
        "redaction_failed": [n.location for n in facts.redaction_failed],
        "images_not_scanned": list(facts.not_text_scanned),
    } | _case_fields(facts, policy)


def _case_fields(facts: Any, policy: Any) -> dict[str, Any]:
    """Issue 16, once a case directory exists: hashed case ids, the recipients not on the case, and the
    first-time recipients (null: unknown, as in ``scan``, which reads no history)."""
    if policy is None or not facts.case_directory:
        return {}
    from gateway.policy.engine import case_mismatch

    return {
        "cases": list(facts.cases),
        "distinct_cases": facts.distinct_cases,
        "case_mismatch": list(case_mismatch(facts, policy.lists)),
        "first_time": list(facts.first_time) if facts.first_time_known else None,
    }


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gateway.commands.cases import load_case_matcher
    from gateway.config import load
    from gateway.evaluator import Evaluator
    from gateway.policy.model import Action

    cfg = load(args.config)
    if args.cases:
        from gateway.commands.cases import csv_case_matcher

        matcher = csv_case_matcher(cfg, Path(args.cases))
        if matcher is None:
            return 2
    else:
        matcher = load_case_matcher(cfg)
    evaluator = Evaluator(cfg, cases=matcher)
    evaluator.scanner  # noqa: B018 - build the models before the progress bar starts
    files = list(iter_files(args.paths))
    rc = 0
    bar = tqdm(files, disable=not sys.stderr.isatty(), file=sys.stderr, unit="msg")
    for path in bar:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            rc = max(rc, 1)
            _emit(args, {"file": str(path), "error": f"cannot read: {exc.__class__.__name__}"})
            continue
        try:
            facts, decision = evaluator.evaluate(raw, args.mail_from, args.rcpt, reveal=args.reveal)
        except Exception as exc:
            rc = max(rc, 1)
            _emit(args, {"file": str(path), "error": f"scan failed: {exc.__class__.__name__}"})
            continue
        if decision.action > Action.TAG:
            rc = max(rc, 1)
        _emit(args, result_record(path, facts, decision, args.reveal, cfg.policy))
    return rc


def _emit(args: argparse.Namespace, record: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(record, ensure_ascii=False), flush=True)
        return
    if "error" in record:
        print(f"{record['file']}: ERROR {record['error']}", flush=True)
        return
    rules = ",".join(record["rules"]) or "-"
    types = ",".join(f"{f['entity']}x{f['count']}" for f in record["findings"]) or "-"
    print(f"{record['file']}: {record['decision']} rules={rules} sensitivity={record['sensitivity']} "
          f"findings={types}", flush=True)
