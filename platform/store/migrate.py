"""Alembic, driven from code: `itsm db upgrade` and the automatic upgrade of a new embedded database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

if TYPE_CHECKING:
    from .database import Database


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", "itsm.store:migrations")
    url = database.url.render_as_string(hide_password=False).replace("%", "%%")  # configparser syntax
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    command.upgrade(alembic_config(database), revision)


def is_current(database: Database) -> bool:
    head = ScriptDirectory.from_config(alembic_config(database)).get_current_head()
    with database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current == head
