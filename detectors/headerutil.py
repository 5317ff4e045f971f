"""Header reading that never raises, and the subject-trigger grammar shared by detection and tagging.

Messages arrive from anywhere and may be malformed: the stdlib's structured header parsing can raise on a
broken address list or encoded word, and one bad header must not stop a decision. Everything here works on
the raw header strings and degrades to "no value" instead of failing.

The trigger grammar lives here so that ``detectors.encryption`` (is the trigger already there?) and
``gateway.actions.encrypt`` (add it once) can never disagree about what counts as a trigger; both read the raw
Subject value, as the downstream encryption service does (``raw_subject_has_trigger``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email.header import decode_header, make_header
from email.message import Message
from functools import lru_cache

_FOLD = re.compile(r"\r?\n[ \t]")
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|tr|sv|vs|antw|rif|r)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+",
    re.IGNORECASE,
)
"""Reply/forward prefixes, including the localised ones Outlook writes (AW, WG, TR, SV, VS, Antw, RIF)."""


def decode_header_value(raw: str) -> str:
    """Unfold and decode RFC 2047 encoded words; on any error fall back to the raw text."""
    text = _FOLD.sub(" ", raw)
    if "=?" not in text:
        return text.strip()
    try:
        return str(make_header(decode_header(text))).strip()
    except Exception:
        return text.strip()


def header_values(msg: Message, name: str) -> list[str]:
    """All decoded values of header ``name`` (any case); empty when absent or unreadable."""
    wanted = name.lower()
    out: list[str] = []
    try:
        items = msg.raw_items()
    except Exception:
        return out
    for key, value in items:
        if str(key).lower() == wanted:
            out.append(decode_header_value(value if isinstance(value, str) else _safe_str(value)))
    return out


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return ""


def unfold(raw: str) -> str:
    """A header value as the wire has it, on one line: folding undone, encoded words left as they are."""
    return _FOLD.sub(" ", raw).strip()


def raw_header_values(msg: Message, name: str) -> list[str]:
    """All values of header ``name`` unfolded but *not* decoded: what a service matching raw headers sees."""
    wanted = name.lower()
    try:
        items = msg.raw_items()
    except Exception:
        return []
    return [unfold(v if isinstance(v, str) else _safe_str(v)) for k, v in items if str(k).lower() == wanted]


def header_names(msg: Message) -> list[str]:
    """Header names in order, lower-cased; never raises."""
    try:
        return [str(k).lower() for k in msg.keys()]
    except Exception:
        return []


def first_header(msg: Message, name: str) -> str:
    values = header_values(msg, name)
    return values[0] if values else ""


def strip_reply_prefixes(subject: str) -> str:
    """``RE: FW: encrypt x`` -> ``encrypt x``: a trigger after reply prefixes still counts."""
    return _REPLY_PREFIX.sub("", subject, count=1)


@lru_cache(maxsize=64)
def _trigger_pattern(triggers: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join(re.escape(t.strip()) for t in sorted(triggers, key=len, reverse=True) if t.strip())
    # The word may be bracketed or followed by a colon; it must be a whole word ("Encryption keys" is not).
    return re.compile(rf"^\s*(?:\[\s*(?:{words})\s*\]|\(\s*(?:{words})\s*\)|(?:{words})(?![\w]))", re.IGNORECASE)


def subject_has_trigger(subject: str, triggers: Iterable[str]) -> bool:
    """True when the subject starts (after reply/forward prefixes) with one of the trigger words."""
    key = tuple(triggers)
    if not any(t.strip() for t in key):
        return False
    return bool(_trigger_pattern(key).match(strip_reply_prefixes(subject)))


def raw_subject_has_trigger(msg: Message, triggers: Iterable[str]) -> bool:
    """The trigger as the downstream encryption service sees it: in every Subject field, raw.

    The service matches the header as it travels: ``Subject: =?utf-8?q?encrypt?= notes`` decodes to
    "encrypt notes" for a person, but its raw value does not start with the word, so the service does not
    encrypt it. Detection therefore reads the raw (unfolded, undecoded) value, exactly as
    ``gateway.actions.encrypt.add_subject_tag`` does before it adds the tag: a subject whose raw value lacks
    the trigger is not counted as encrypted, and when a rule asks for encryption the plain tag is added in
    front of it. Matching the raw value is the safe side either way: if a service does decode, the added
    plain tag is harmless. Every Subject field must carry it (a second, untagged one is what some reader
    would show)."""
    values = raw_header_values(msg, "Subject")
    return bool(values) and all(subject_has_trigger(v, triggers) for v in values)


def word_count(text: str) -> int:
    return len(re.findall(r"[^\W_]+", text))


def normalise_label(value: str) -> str:
    """Label names compared loosely: ``Official-Sensitive`` == ``OFFICIAL SENSITIVE``."""
    return re.sub(r"[^0-9a-z]", "", value.lower())


def any_label_in(names: Sequence[str], wanted: Iterable[str], *, exact: bool = False) -> str | None:
    """The first of ``names`` equal to (``exact``) or containing one of ``wanted``, compared loosely.

    Markings use containment (``Official Sensitive - Personal`` is OFFICIAL-SENSITIVE); encrypting labels
    use equality, so that ``Not Confidential`` never matches ``Confidential``."""
    keys = [normalise_label(w) for w in wanted if normalise_label(w)]
    for name in names:
        n = normalise_label(name)
        if n and any((k == n) if exact else (k in n) for k in keys):
            return name
    return None
