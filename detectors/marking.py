"""Protective marking: is the message marked OFFICIAL-SENSITIVE (or whatever the policy configures)?

A marking is a statement by the author about *this* message, so it counts where authors put it: the subject,
a sensitivity-label header, or a marking line at the top of the body. Organisations also put the words in
footer boilerplate on every email ("This email may contain OFFICIAL-SENSITIVE information ..."); counting
that would mark all mail, so a body marking counts only within the first lines and only on a line that is
the marking (few other words), not a sentence that mentions it.

Content findings of entity ``PROTECTIVE_MARKING`` (from the content recognizer) are used too, under the same
position rule, so a form our patterns miss is still caught; our own patterns make this work without them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from email.message import EmailMessage, Message
from functools import lru_cache
from typing import TYPE_CHECKING

from detectors.encryption import label_names
from detectors.findings import Finding
from detectors.headerutil import any_label_in, first_header, word_count

if TYPE_CHECKING:
    from gateway.policy.config import MarkingSettings, PolicyConfig

ENTITY = "PROTECTIVE_MARKING"
_QUALIFIERS = re.compile(
    r"\b(?:personal|commercial|classification|classified|marking|marked|security|protective|label|"
    r"sensitivity|descriptor|handling|caveat|official|sensitive)\b",
    re.IGNORECASE,
)
_SIG_DELIMITER = re.compile(r"^--\s*$")


@lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def html_to_text(markup: str) -> str:
    """Just enough HTML-to-text to find the first lines (block ends become line breaks)."""
    s = re.sub(r"(?is)<(script|style|head|title)\b.*?</\1\s*>", " ", markup)
    s = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h[1-6]|table|blockquote)\s*>", "\n", s)
    s = re.sub(r"<[^>]*>", " ", s)
    return html.unescape(s)


def first_lines(text: str, settings: MarkingSettings) -> list[tuple[int, str]]:
    """(offset, line) for the first non-empty lines, up to the character limit or a signature delimiter."""
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text[: settings.first_chars].splitlines(keepends=True):
        stripped = line.strip()
        if _SIG_DELIMITER.match(stripped):
            break
        if stripped:
            out.append((offset, line))
            if len(out) >= settings.first_lines:
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


def _bodies(msg: Message) -> dict[str, str]:
    """The first text/plain and text/html body parts (not attachments), keyed like content findings."""
    out: dict[str, str] = {}
    try:
        parts = list(msg.walk())
    except Exception:
        return out
    for part in parts:
        try:
            if part.is_multipart() or (part.get_content_disposition() or "inline") == "attachment":
                continue
            ctype = part.get_content_type()
            payload = part.get_payload(decode=True)
            charset = part.get_content_charset() or "utf-8"
        except Exception:  # noqa: S112 - an unreadable part cannot carry a readable marking
            continue
        if not isinstance(payload, bytes):
            continue
        try:
            text = payload.decode(charset, errors="replace")
        except LookupError:
            text = payload.decode("utf-8", errors="replace")
        if ctype == "text/plain" and "body" not in out:
            out["body"] = text
        elif ctype == "text/html" and "body.html" not in out:
            out["body.html"] = html_to_text(text)
    return out


def protective_marking(findings: Sequence[Finding], msg: EmailMessage, policy: PolicyConfig) -> bool:
    settings = policy.protective_marking
    patterns = _compiled(tuple(settings.patterns))

    if any(f.entity == ENTITY and f.location == "subject" for f in findings):
        return True
    subject = first_header(msg, "Subject")
    if any(p.search(subject) for p in patterns):
        return True

    labels = policy.sensitivity_labels
    names = label_names(msg, labels.headers)
    if any_label_in(names, labels.marking_labels) or any(p.search(n) for n in names for p in patterns):
        return True

    bodies = _bodies(msg)
    for text in bodies.values():
        for _, line in first_lines(text, settings):
            if is_marking_line(line, patterns, settings.max_other_words):
                return True

    for f in findings:
        if f.entity != ENTITY or f.location not in ("body", "body.html"):
            continue
        body = bodies.get(f.location)
        if body is None:
            if f.start < settings.first_chars:
                return True
            continue
        for offset, line in first_lines(body, settings):
            if offset <= f.start < offset + len(line):
                # The recognizer may know forms our patterns do not; judge the line by its length alone.
                if word_count(line) <= settings.max_other_words + 3:
                    return True
    return False
