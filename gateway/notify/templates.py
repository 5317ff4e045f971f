"""The templates behind every mail we write (digest, alerts, sender notices).

They are the governance team's to edit (``config/templates``); any template missing from the configured
folder falls back to the packaged one. Undefined names fail loudly rather than render as blanks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from gateway.notify.formats import fmt_hours, fmt_local

if TYPE_CHECKING:
    from gateway.config import Config


def template_dirs(cfg: Config) -> list[Path]:
    from gateway.config import packaged_config_dir

    dirs = [cfg.resolve(cfg.gateway.digest.templates), packaged_config_dir() / "templates"]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def template_env(cfg: Config) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in template_dirs(cfg)]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["local"] = fmt_local
    env.filters["hours"] = fmt_hours
    return env


def render(cfg: Config, name: str, **context: Any) -> str:
    return template_env(cfg).get_template(name).render(**context)


def split_subject(text: str) -> tuple[str, str]:
    """A rendered text template starts with ``Subject: ...``: (subject, body)."""
    subject, _, body = text.partition("\n")
    return subject.removeprefix("Subject:").strip(), body.lstrip("\n")
