"""Packaging of gateway.store: lazy imports and the migrations inside the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gateway.store
from gateway.store import migrate


def test_config_import_stays_light() -> None:
    """Loading the config (every command, every scan worker) must not import SQLAlchemy or Alembic."""
    code = (
        "import sys, gateway.config, gateway.store.settings\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_exports_resolve() -> None:
    """Every name gateway.store promises can be imported from it."""
    for name in gateway.store.__all__:
        assert getattr(gateway.store, name) is not None


def test_migrations_ship_inside_the_package() -> None:
    """Alembic's scripts live under gateway/ so a wheel can upgrade a database with no checkout."""
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()
    assert migrate.MIGRATIONS_DIR.is_relative_to(Path(gateway.store.__file__).parent)
    newest = max(p.stem for p in (migrate.MIGRATIONS_DIR / "versions").glob("r[0-9]*.py"))
    assert migrate.head_revision() == newest[1:5]  # one line of history: the newest file is the head
