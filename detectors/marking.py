"""Protective marking: is the message marked OFFICIAL-SENSITIVE (or whatever the policy configures)?

A marking is a statement by the author about *this* message, so it counts where authors put it: the subject,
a sensitivity-label header, or a marking line at the top of the body. Organisations also put the words in
footer boilerplate on every email ("This email may contain OFFICIAL-SENSITIVE information ..."); counting
that would mark all mail, so a body marking counts only within the first lines and only on a line that is
the marking (few other words), not a sentence that mentions it.

Content findings of entity ``PROTECTIVE_MARKING`` (from the content recognizer) are used too, under the same
position rule, so a form our patterns miss is still caught; our own patterns make this work without them.

Bodies are judged on the text extraction produced (``TextChunk``s ``body`` and ``body.html``), the same text the
findings' offsets point into: an HTML body is read once, by ``gateway.mime``, never decoded a second way here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from functools import lru_cache

from detectors.encryption import label_names
from detectors.findings import Finding
from detectors.headerutil import any_label_in, first_header, word_count
from gateway.mime.model import TextChunk

ENTITY = "PROTECTIVE_MARKING"
BODY_LOCATIONS = ("body", "body.html")
"""The first plain-text and the first HTML body, as extraction names them (``gateway.mime``)."""
_QUALIFIERS = re.compile(
    r"\b(?:personal|commercial|classification|classified|marking|marked|security|protective|label|"
    r"sensitivity|descriptor|handling|caveat|official|sensitive)\b",
    re.IGNORECASE,
)
_SIG_DELIMITER = re.compile(r"^--\s*$")


@dataclass(frozen=True, slots=True)
class MarkingRules:
    """What counts as a protective marking, and where (from the policy)."""

    patterns: tuple[str, ...]
    """Regular expressions (case-insensitive) for a marking."""
    first_lines: int
    """A body marking counts only in this many non-empty lines ..."""
    first_chars: int
    """... and only in this many characters of the body."""
    max_other_words: int
    """A marking line has at most this many other words (a disclaimer sentence is not a marking)."""
    label_headers: tuple[str, ...]
    """Headers that carry a sensitivity label."""
    marking_labels: tuple[str, ...]
    """Label names that count as a protective marking (compared loosely)."""


@lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def first_lines(text: str, rules: MarkingRules) -> list[tuple[int, str]]:
    """(offset, line) for the first non-empty lines, up to the character limit or a signature delimiter."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text[: rules.first_chars].splitlines(keepends=True):
        stripped = line.strip()
        if _SIG_DELIMITER.match(stripped):
            break
        if stripped:
            out.append((offset, line))
            if len(out) >= rules.first_lines:
                break
        offset += len(line)
    return out


def is_marking_line(line: str, patterns: Sequence[re.Pattern[str]], max_other_words: int) -> bool:
    """The line *is* a marking: the marking plus at most a few other words (not a disclaimer sentence)."""
    if not any(p.search(line) for p in patterns):
        return False
    rest = line
    for p in patterns:
        rest = p.sub(" ", rest)
    rest = _QUALIFIERS.sub(" ", rest)
    return word_count(rest) <= max_other_words


def _bodies(chunks: Sequence[TextChunk]) -> dict[str, str]:
    """The first plain-text and HTML bodies as extracted: the texts content findings' offsets point into."""
    out: dict[str, str] = {}
    for c in chunks:
        if c.kind == "body" and c.location in BODY_LOCATIONS and c.location not in out:
            out[c.location] = c.text
    return out


def protective_marking(
    findings: Sequence[Finding], chunks: Sequence[TextChunk], msg: Message, rules: MarkingRules
) -> bool:
    """Is the message marked? ``chunks`` are the message's extracted texts (the ones ``findings`` were found in),
    ``msg`` gives the subject and the label headers."""
    patterns = _compiled(rules.patterns)

    if any(f.entity == ENTITY and f.location == "subject" for f in findings):
        return True
    subject = first_header(msg, "Subject")
    if any(p.search(subject) for p in patterns):
        return True

    names = label_names(msg, rules.label_headers)
    if any_label_in(names, rules.marking_labels) or any(p.search(n) for n in names for p in patterns):
        return True

    bodies = _bodies(chunks)
    for text in bodies.values():
        for _, line in first_lines(text, rules):
            if is_marking_line(line, patterns, rules.max_other_words):
                return True

    for f in findings:
        if f.entity != ENTITY or f.location not in BODY_LOCATIONS:
            continue
        body = bodies.get(f.location)
        if body is None:
            continue
        for offset, line in first_lines(body, rules):
            if offset <= f.start < offset + len(line):
                # The recognizer may know forms our patterns do not; judge the line by its length alone.
                if word_count(line) <= rules.max_other_words + 3:
                    return True
    return False
