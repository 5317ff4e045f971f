"""Link targets as text: what a URL carries once its encoding is undone.

``<a href="https://x.example/f?child=Amy%20Brown&nhs=943%20476%205919">`` shows "click here" and sends a name
and an NHS number to whoever runs x.example. Each URL becomes lines a recognizer can read: the host and the
decoded path, then one ``key: value`` line per query (and fragment) parameter, percent-encoding and ``+`` undone
(twice, for double encoding), a URL nested in a parameter (redirect and safe-links wrappers) read the same way,
and a parameter that is base64 of printable text decoded. ``data:`` URLs of text types are decoded too.
``mailto:`` and ``tel:`` targets are already in the body text (``html_text``); ``cid:`` and anchors are
skipped. Tokens over 40 characters with no spaces are tracking ids and hashes, not text, and are dropped.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

_SKIP_SCHEMES = ("mailto:", "tel:", "cid:", "javascript:", "#", "about:", "callto:", "sms:")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]{8,}={0,2}$")
_LONG_TOKEN = re.compile(r"\S{41,}")
_TEXT_URL = re.compile(r"\bhttps?://[^\s<>\"'\]\[)]+", re.IGNORECASE)
MAX_URLS = 300
MAX_CHARS = 20_000
_MAX_NESTING = 3


def _decode(value: str, plus: bool) -> str:
    """Percent-decoding (``+`` as space in queries), repeated once more for double-encoded values."""
    for _ in range(2):
        if not _PERCENT.search(value) and not (plus and "+" in value):
            break
        value = unquote_plus(value) if plus else unquote(value)
    return value


def _base64_text(value: str) -> str | None:
    """Printable text that ``value`` is the base64 of, or None (random tokens rarely decode to text)."""
    if not _BASE64.match(value) or len(value) > 4096:
        return None
    padded = value.replace("-", "+").replace("_", "/")
    padded += "=" * (-len(padded) % 4)
    try:
        text = base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if len(text) < 6 or not text.isprintable() or not any(ch.isalnum() for ch in text):
        return None
    return text


def _clean(text: str) -> str:
    return " ".join(_LONG_TOKEN.sub(" ", text).split())


def _data_url(url: str) -> list[str]:
    head, comma, body = url[5:].partition(",")
    if not comma or (head and not head.lower().startswith(("text/", ";", "application/json"))):
        return []
    try:
        if head.lower().endswith(";base64"):
            text = base64.b64decode(body[:100_000] + "=" * (-len(body) % 4)).decode("utf-8", "replace")
        else:
            text = unquote(body[:100_000])
    except (binascii.Error, ValueError):
        return []
    return [text]


def _params(query: str, depth: int) -> list[str]:
    lines: list[str] = []
    for key, value in parse_qsl(query, keep_blank_values=False):
        key = _decode(key, True)
        value = _decode(value, True)
        if value.lower().startswith(("http://", "https://")) and depth < _MAX_NESTING:
            lines.extend(url_lines(value, depth + 1))
            continue
        decoded = _base64_text(value)
        shown = _clean(value)
        if shown:
            lines.append(f"{_clean(key)}: {shown}" if key.strip() else shown)
        if decoded is not None:
            lines.append(f"{_clean(key)}: {_clean(decoded)}")
    return lines


def url_lines(url: str, depth: int = 0) -> list[str]:
    """The readable text of one URL, as lines (empty for targets that carry none)."""
    url = url.strip()
    lower = url.lower()
    if not url or lower.startswith(_SKIP_SCHEMES):
        return []
    if lower.startswith("data:"):
        return _data_url(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return [_clean(_decode(url, False))]
    lines: list[str] = []
    path = " ".join(seg for seg in _decode(parts.path, False).split("/") if seg)
    head = _clean(f"{parts.hostname or ''} {path}")
    if head:
        lines.append(head)
    if parts.query:
        lines.extend(_params(parts.query, depth))
    if parts.fragment:
        fragment = parts.fragment.lstrip("!/")
        if "=" in fragment:
            lines.extend(_params(fragment.split("?", 1)[-1], depth))
        else:
            text = _clean(_decode(fragment, False))
            if text:
                lines.append(text)
    return lines


def links_text(urls: Iterable[str]) -> str:
    """The text of every distinct URL, one line per host/path or parameter, bounded in count and size."""
    out: list[str] = []
    seen: set[str] = set()
    size = 0
    for url in urls:
        if url in seen:
            continue
        seen.add(url)
        if len(seen) > MAX_URLS:
            break
        for line in url_lines(url):
            out.append(line)
            size += len(line) + 1
        if size > MAX_CHARS:
            break
    return "\n".join(out)[:MAX_CHARS]


def text_urls(text: str) -> list[str]:
    """URLs written out in plain text that carry encoded or parameter text (``%``, ``?``, ``#`` or ``+``)."""
    return [m.group() for m in _TEXT_URL.finditer(text) if any(ch in m.group() for ch in "%?#+")]
