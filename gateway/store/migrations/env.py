"""Alembic environment. dlpgate runs Alembic programmatically (``gateway.store.migrate``) and hands it an open
connection, so no alembic.ini or database URL is needed here; ``dlpgate db upgrade --sql`` uses offline mode."""

from __future__ import annotations

from alembic import context

from gateway.store.migrate import VERSION_TABLE
from gateway.store.schema import metadata

config = context.config


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
