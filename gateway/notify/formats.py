"""How times and durations read to people, the same in every template and on the command line."""

from __future__ import annotations

from datetime import datetime, tzinfo


def fmt_hours(hours: float) -> str:
    """``5h07m``, ``-0h30m``: a deadline's time left (negative once it has passed)."""
    sign = "-" if hours < 0 else ""
    minutes = round(abs(hours) * 60)
    return f"{sign}{minutes // 60}h{minutes % 60:02d}m"


def fmt_local(value: datetime | None, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as wall-clock time where the governance team is (``digest.timezone``); empty for none."""
    if value is None:
        return ""
    return value.astimezone(tz).strftime(fmt)
