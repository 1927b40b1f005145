"""Alembic environment of the card ledger.

Run through `cds_service.store.Store.migrate()`, which builds the `alembic.config.Config` in code and passes
its own connection in `config.attributes["connection"]` (already inside a transaction that holds the
migration lock). Running `alembic` by hand also works: set `sqlalchemy.url` in the Config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cds_service.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite: ALTER via table copy in future migrations
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
