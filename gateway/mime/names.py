"""Location names built from attacker-chosen file names: made printable, bounded and path-like."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
MAX_NAME = 200


def clean_name(name: str) -> str:
    """One file name: no control or bidi characters (which could disguise an extension), bounded length."""
    name = _CONTROL.sub(" ", name).strip()
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 1] + "…"
    return name


def clean_member_path(path: str) -> str:
    """An archive member path: forward slashes, relative, no ``..`` or empty segments."""
    segments = [clean_name(seg) for seg in path.replace("\\", "/").split("/")]
    kept = [seg for seg in segments if seg and seg not in (".", "..")]
    return "/".join(kept) or "unnamed"


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
