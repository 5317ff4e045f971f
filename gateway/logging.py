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
_TRUSTED_KEYS = frozenset({"timestamp", "level", "logger", "peer", "txn", "incident", "event"})
_EMAIL = re.compile(r"[^\s<>\"'@,;:]+@[A-Za-z0-9.\-]+")
_DIGITS = re.compile(r"\d(?:[ \-.]?\d){6,}")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _DIGITS.sub("<digits>", _EMAIL.sub("<address>", value))
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in _FORBIDDEN_KEYS else _scrub(v)) for k, v in value.items()}
    return value


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in _FORBIDDEN_KEYS:
            event_dict[key] = "<redacted>"
        elif key not in _TRUSTED_KEYS:
            event_dict[key] = _scrub(event_dict[key])
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
