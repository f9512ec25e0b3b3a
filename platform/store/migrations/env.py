"""Alembic environment: runs migrations on the engine the caller passes (see itsm.store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from itsm.store.models import Base
from itsm.store.search import include_in_comparison

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          include_name=include_in_comparison)  # FTS objects are not models
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
