"""Statements run on nearly every request (users, tokens, search documents), built once.

SQLAlchemy caches the compiled SQL of a statement under a key it derives from the statement object, and
remembers that key on the object: a statement built once and run with parameters skips both the building
and the key, which together cost more than running it on SQLite. Parameters are bound by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from .models import ApiToken, SearchDocument, User

USER_BY_NAME = select(User).where(User.name == bindparam("name"))  # :name
_USERS, _TOKENS = cast(Table, User.__table__), cast(Table, ApiToken.__table__)
# A bearer token's last use and its user, the first statement of every API request (:digest); the outer
# join tells a token whose user is gone from an unknown token.
TOKEN_AND_USER = (select(_TOKENS.c.last_used_at, *_USERS.c)
                  .select_from(_TOKENS.outerjoin(_USERS, _USERS.c.id == _TOKENS.c.user_id))
                  .where(_TOKENS.c.token_hash == bindparam("digest")))


def _search_upsert(dialect_insert: Callable[..., Any], columns: tuple[str, ...]) -> Executable:
    """Insert a ticket's document or replace `columns` of it (the others keep their text)."""
    statement = dialect_insert(SearchDocument).values(
        ticket_id=bindparam("ticket_id"), **{name: bindparam(name) for name in columns})
    return statement.on_conflict_do_update(index_elements=["ticket_id"], set_={
        name: getattr(statement.excluded, name) for name in columns})


def _search_append(dialect_insert: Callable[..., Any], column: str) -> Executable:
    """Insert a ticket's document holding only `column`, or add to the end of that column's text."""
    statement = dialect_insert(SearchDocument).values(ticket_id=bindparam("ticket_id"), **{column: bindparam("text")})
    stored = getattr(SearchDocument, column)
    return statement.on_conflict_do_update(index_elements=["ticket_id"], set_={
        column: stored + " " + getattr(statement.excluded, column)})


_DIALECTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# A ticket's search document, per dialect: its fields' text inserted or replaced (:ticket_id, :title, :body),
# the whole document replaced (also :comments, :notes), a comment added to the end of `comments` or `notes`
# (:ticket_id, :text). The values are the text as cut for the index.
WRITE_SEARCH_DOCUMENT: dict[str, Executable] = {name: _search_upsert(insert, ("title", "body"))
                                                for name, insert in _DIALECTS.items()}
REPLACE_SEARCH_DOCUMENT: dict[str, Executable] = {
    name: _search_upsert(insert, ("title", "body", "comments", "notes")) for name, insert in _DIALECTS.items()}
APPEND_SEARCH_COMMENTS: dict[str, dict[str, Executable]] = {
    name: {column: _search_append(insert, column) for column in ("comments", "notes")}
    for name, insert in _DIALECTS.items()}
