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


def _search_upsert(dialect_insert: Callable[..., Any]) -> Executable:
    statement = dialect_insert(SearchDocument).values(ticket_id=bindparam("ticket_id"), title=bindparam("title"),
                                                  body=bindparam("body"))
    return statement.on_conflict_do_update(index_elements=["ticket_id"], set_={
        "title": statement.excluded.title, "body": statement.excluded.body})


# A ticket's search document, inserted or replaced (:ticket_id, :title, :body), per dialect.
WRITE_SEARCH_DOCUMENT: dict[str, Executable] = {"postgresql": _search_upsert(postgresql.insert),
                                                "sqlite": _search_upsert(sqlite.insert)}
