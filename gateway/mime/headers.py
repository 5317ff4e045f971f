"""Header text a person can read: display names of the address fields and the unstructured fields.

A sender can put a child's name and case number in a To display name (``"Amy Brown ZW24C50123"
<x@example.com>``), in ``Comments:`` or ``Keywords:``, in Outlook's ``Thread-Topic:`` or in any ``X-`` field
a client shows. Those are scanned (locations ``header:To``, ``header:X-Whatever``). Machine fields are not:
routing and authentication (``Received``, ``DKIM-Signature``, ``ARC-*``), identifiers (``Message-ID``,
``References``), list management (``List-*``), MIME structure, and the ``X-`` fields that mail systems write
(Exchange's ``X-MS-*``, spam and virus scanners' verdicts, mailer names). Inside a scanned value, tokens longer
than any identifier (base64, hashes, tracking ids) are dropped: they are machine text and only make noise.

The address fields yield their display names only: the addresses themselves are the correspondents'.
Detection treats those display names as the correspondents' own (``detectors.content``), so a recipient's
name is no finding, while an identifier written into a display name is.
"""

from __future__ import annotations

import re
from email import policy
from email.message import Message
from email.utils import getaddresses

from gateway.mime.names import clean_name
from gateway.mime.parse import decode_header_value

ADDRESS_FIELDS = ("From", "Sender", "Reply-To", "To", "Cc", "Bcc")
"""Fields whose display names are read; ``header:<field>`` chunks of these hold correspondents' names."""
_ADDRESS_LOWER = frozenset(f.lower() for f in ADDRESS_FIELDS)
_UNSTRUCTURED = frozenset(
    {"comments", "keywords", "thread-topic", "summary", "organization", "organisation", "content-description"}
)
# X- fields that mail systems write (servers, filters, clients, bulk senders); any other X- field is read.
_MACHINE_X = re.compile(
    r"^x-(?:ms-|microsoft-|forefront-|exchange-|eop|originat|mailer|mimeole|msmail|priority|has-attach|tnef|"
    r"auto-response|spam|ham-|virus|scanned|quarantine|greylist|rspamd|amavis|spf|dkim|arc-|authenticated|"
    r"authority|envelope|original-|sender-|source|received|sid-|incomingheader|"
    r"proofpoint|mimecast|mc-|barracuda|ironport|sophos|symantec|trend|tm-|tmase|atp|cloudmark|cmae|vade|vr-|"
    r"mailscanner|kaspersky|eset|avast|bitdefender|pmx|nai-|"
    r"google|gm-|yahoo|ymail|apple-|mozilla|zoho|ovh|pobox|"
    r"ses-|sg-|sendgrid|mailgun|mandrill|msys|smtpapi|feedback-id|entity-id|campaign|rpcampaign|report-abuse|"
    r"csa-|pm-|php-|bulk|account-key|uniform-type|universally-unique|mac-|library|accept-language|"
    r"dlp-|topicthread)",
    re.IGNORECASE,
)
_LONG_TOKEN = re.compile(r"\S{41,}")
_MAX_VALUE = 2000
_MAX_PARSED = 4096
"""Longer address fields skip the standard library's parser (super-linear) for ``getaddresses``."""
_MAX_FIELDS = 200


def _value_text(value: str) -> str:
    """A decoded header value with machine tokens (over 40 characters, no spaces) dropped, bounded."""
    text = _LONG_TOKEN.sub(" ", decode_header_value(value))
    return " ".join(text.split())[:_MAX_VALUE]


def _display_names(name: str, value: str) -> list[str]:
    """The display names (and group names) in one address field, decoded, without the addresses."""
    names: list[str] = []
    if len(value) <= _MAX_PARSED and not any("\ud800" <= ch <= "\udfff" for ch in value):
        try:
            header = policy.default.header_factory(name, value)
            for group in getattr(header, "groups", ()):
                if group.display_name:
                    names.append(group.display_name)
                names.extend(a.display_name for a in group.addresses if a.display_name)
        except Exception:
            names = []
    if not names:
        try:
            names = [n for n, _addr in getaddresses([decode_header_value(value)]) if n.strip()]
        except Exception:
            names = []
    return [" ".join(n.split())[:_MAX_VALUE] for n in names if n.strip()]


def is_readable_field(name: str) -> bool:
    """An address field, an unstructured field a person writes, or an ``X-`` field no mail system writes."""
    lower = name.lower()
    if lower in _ADDRESS_LOWER or lower in _UNSTRUCTURED:
        return True
    return lower.startswith("x-") and not _MACHINE_X.match(lower)


def _label(name: str) -> str:
    """The field name as words, for context: ``X-NHS-Number`` -> ``NHS Number``."""
    bare = name[2:] if name.lower().startswith("x-") else name
    return " ".join(bare.replace("_", "-").split("-")).strip()


def readable_headers(msg: Message) -> list[tuple[str, str]]:
    """(location, text) per readable field of ``msg``, in order of first appearance; ``Subject`` excluded
    (it has its own chunk). Address fields give their display names one a line; other fields
    ``Label: value`` so the field name is context for the recognizers."""
    texts: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    try:
        items = list(msg.raw_items())
    except Exception:
        return []
    for raw_name, raw_value in items[: _MAX_FIELDS * 5]:
        name = str(raw_name).strip()
        if not name or not is_readable_field(name):
            continue
        key = name.lower()
        if key not in names and len(names) >= _MAX_FIELDS:
            continue
        names.setdefault(key, clean_name(name)[:80])
        value = str(raw_value)
        if key in _ADDRESS_LOWER:
            texts.setdefault(key, []).extend(_display_names(name, value))
        else:
            text = _value_text(value)
            if text:
                texts.setdefault(key, []).append(f"{_label(names[key])}: {text}")
    return [(f"header:{names[key]}", "\n".join(lines)) for key, lines in texts.items() if lines]


def readable_header_lines(msg: Message, skip: frozenset[str]) -> list[str]:
    """``Field: value`` lines of the readable unstructured fields not in ``skip`` (lower case), for the
    one ``headers`` chunk of an attached message."""
    lines: list[str] = []
    try:
        items = list(msg.raw_items())
    except Exception:
        return []
    for raw_name, raw_value in items[: _MAX_FIELDS * 5]:
        name = str(raw_name).strip()
        if name.lower() in skip or name.lower() in _ADDRESS_LOWER or not is_readable_field(name):
            continue
        text = _value_text(str(raw_value))
        if text:
            lines.append(f"{_label(clean_name(name)[:80])}: {text}")
    return lines[:_MAX_FIELDS]
