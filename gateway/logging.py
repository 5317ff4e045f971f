"""structlog set-up: JSON lines, one per transaction, with a redaction processor as a safety net.

Log calls should carry only ids, counts, types and codes; the processor also drops keys that name content and
masks anything that looks like an email address, NHS number or long digit run, so a careless call cannot leak.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_FORBIDDEN_KEYS = frozenset({"subject", "body", "text", "content", "texts", "value", "values", "raw"})
_TRUSTED_KEYS = frozenset({"timestamp", "level", "logger", "peer", "txn", "incident", "event", "listen"})
# Keys whose value is a calendar day or time (the digest's "day", a purge's "before"): an ISO date there is an
# operational fact, not a date of birth, and operators need it readable (issue 17). Elsewhere an ISO date could
# be anything read from a message, so it stays masked like any long digit run.
_DATE_KEYS = frozenset({"day", "date", "since", "until", "before", "after", "expires", "due"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_EMAIL = re.compile(r"[^\s<>\"'@,;:]+@[A-Za-z0-9.\-]+")
# An incident reference (INC-2026-000123, gateway/store/records.py) is our own counter, not personal data: it
# is matched first and kept, so operators can follow an incident from the log to the console.
_DIGITS = re.compile(r"(?P<ref>\bINC-\d{4}-\d+\b)|\d(?:[ \-.]?\d){6,}")


def _mask_digits(match: re.Match[str]) -> str:
    return match.group(0) if match.group("ref") else "<digits>"


def _scrub(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        if key in _DATE_KEYS and _ISO_DATE.fullmatch(value):
            return value
        return _DIGITS.sub(_mask_digits, _EMAIL.sub("<address>", value))
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in _FORBIDDEN_KEYS else _scrub(v, str(k))) for k, v in value.items()}
    return value


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in _FORBIDDEN_KEYS:
            event_dict[key] = "<redacted>"
        elif key not in _TRUSTED_KEYS:
            event_dict[key] = _scrub(event_dict[key], key)
    return event_dict


def configure_logging(*, json: bool = True, level: str = "INFO", stream: Any = None) -> None:
    logging.basicConfig(format="%(message)s", stream=stream or sys.stderr, level=level, force=True)
    # Third-party loggers that write envelope addresses or SMTP command lines at INFO (aiosmtpd's "mail.log")
    # or chatter (alembic, presidio): warnings only. Our own transaction line says what happened.
    for noisy in ("mail.log", "aiosmtpd", "alembic", "presidio-analyzer", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
