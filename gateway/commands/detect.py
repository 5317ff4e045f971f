"""``dlpgate detect``: run content detection on plain text from stdin and print what was found.

For tuning ``config/detectors.yaml`` and for scripting: the output shows the matched text, so it is the one
place (with ``scan --reveal``) where matched values are printed. Offsets are code points into the input as
given (before normalisation), so ``text[start:end]`` is the match.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.cli import add_config_argument


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="detect personal data in text from stdin",
        description="Read plain text on stdin, print the entities found. Matched text is printed: "
        "do not pipe the output into logs.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help='print [{"entity_type", "start", "end", "score", "text"}] (offsets in code points)',
    )
    parser.add_argument(
        "--lines",
        action="store_true",
        help="each input line is one text; print one result per line, flushed as each line is done",
    )
    parser.set_defaults(func=run)


def _records(detector: Any, text: str) -> list[dict[str, Any]]:
    return [
        {"entity_type": f.entity, "start": f.start, "end": f.end, "score": round(f.score, 4), "text": f.text}
        for f in sorted(detector.analyze_text(text, reveal=True), key=lambda f: (f.start, f.end, f.entity))
    ]


def _emit(records: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        out = json.dumps(records, ensure_ascii=False)
    else:
        out = "\n".join(
            f"{r['start']:>6} {r['end']:>6}  {r['entity_type']:<22} {r['score']:.2f}  {r['text']!r}" for r in records
        )
    sys.stdout.write(out + "\n")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from gateway.config import load
    from gateway.scan import content_detector

    detector = content_detector(load(args.config))
    stdin = sys.stdin.buffer
    if args.lines:
        for raw in stdin:
            line = raw.decode("utf-8", errors="replace")
            if line.endswith("\n"):
                line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
            _emit(_records(detector, line), args.json)
        return 0
    text = stdin.read().decode("utf-8", errors="replace")
    _emit(_records(detector, text), args.json)
    return 0
