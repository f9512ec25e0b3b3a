"""Users made and kept up to date by the directory or the identity provider (SPEC 14, "just in time").

A person the directory (LDAP) or the identity provider (OpenID Connect) vouches for becomes a user on their
first sign-in, with the mail address, full name and organization it says; each later sign-in brings those
up to date. The rules, in one place for both methods (docs/decisions.md, "Sign-in with the directory"):

- A user with a password of this desk is a local account: neither method signs into it. Otherwise whoever
  holds the name `admin` in the directory would be this desk's administrator.
- An OpenID Connect user is the `sub` of their ID tokens: once bound, a rename at the provider signs in as
  the same user, and another account at the provider taking the old name does not.
- A disabled user is refused, whatever the directory says; nothing of theirs is changed.
- The organization is looked up among the values given, nearest first: an organization id, else a name only
  one organization has. Sign-in never creates organizations (the tree is imported); when none matches, the
  user keeps the organization they had (none, the first time) and the log says which values matched nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from itsm.store import Database, User
from itsm.store import orgs as stored_orgs
from itsm.store import users as stored

from ..errors import N_, BadRequest, Conflict, Forbidden
from .users import check_email, check_user_name

if TYPE_CHECKING:
    from itsm.store.database import Session

log = logging.getLogger("itsm.sign_in")

LDAP, OIDC = "LDAP", "OpenID Connect"  # how people and the log name the two methods


class SettingsError(ValueError):
    """A sign-in setting that cannot work, naming the variable to fix (raised when the app is created)."""


@dataclass(frozen=True)
class ExternalPerson:
    """Who the directory or the identity provider says signed in, in its own values."""

    name: str
    method: str  # LDAP or OIDC
    email: str | None = None
    full_name: str | None = None
    orgs: tuple[str, ...] = ()  # organization ids or names, nearest first
    subject: str | None = None  # OpenID Connect's `sub`


def provision(db: Database, person: ExternalPerson) -> User:
    """The user `person` signs in as: created on their first sign-in, brought up to date on later ones.
    Raises Forbidden for a disabled user, Conflict when the name belongs to someone else here."""
    try:
        return _provision(db, person)
    except stored.NameTaken:  # the same person's first sign-in in two requests at once: the other one won
        return _provision(db, person)


def _provision(db: Database, person: ExternalPerson) -> User:
    with db.write() as session:
        user = stored.by_oidc_subject(session, person.subject) if person.subject else None
        if user is None:
            user = stored.by_name(session, person.name)
            if user is not None:
                _check_claimable(user, person)
        if user is not None and not user.active:
            raise Forbidden(N_("user '%(user)s' is disabled: ask an administrator of the service desk",
                               user=user.name))
        email = _usable_email(person)
        full_name = (person.full_name or "").strip()[:200] or None
        org = _organization(session, person, user)
        if user is None:
            _check_new_name(person)
            user = stored.add(session, person.name, email=email, full_name=full_name, org=org)
            stored.update_profile(session, user, oidc_subject=person.subject)
            log.info("%s sign-in created user %r (organization %r)", person.method, person.name, org)
        else:
            stored.update_profile(session, user, email=email, full_name=full_name, org=org,
                                  oidc_subject=person.subject)
        session.flush()
        return user


def _check_claimable(user: User, person: ExternalPerson) -> None:
    if user.password_hash:
        log.warning("%s sign-in as %r refused: a local account (it has a password of this desk)", person.method,
                    user.name)
        raise Conflict(N_("'%(user)s' is an account of this service desk with its own password: sign in with that "
                          "password, or ask an administrator", user=user.name))
    if person.subject and user.oidc_subject and user.oidc_subject != person.subject:
        log.warning("%s sign-in as %r refused: the user belongs to another identity at the provider",
                    person.method, user.name)
        raise Conflict(N_("the user name '%(user)s' belongs to another person here: ask an administrator",
                          user=user.name))


def _check_new_name(person: ExternalPerson) -> None:
    try:
        check_user_name(person.name)
    except BadRequest as exc:
        raise BadRequest(N_("%(method)s gave a user name that cannot be used here: %(problem)s",
                            method=person.method, problem=exc.message)) from None


def _usable_email(person: ExternalPerson) -> str | None:
    """The mail address given, if it is one (mail goes to it): an address that is not is left out, and logged."""
    email = (person.email or "").strip()
    if not email:
        return None
    try:
        check_email(email)
    except BadRequest:
        log.warning("%s sign-in of %r: ignored the mail address %r", person.method, person.name, email)
        return None
    return email


def _organization(session: Session, person: ExternalPerson, user: User | None) -> str | None:
    """The id of the first of `person.orgs` that names an organization (None: nothing to change)."""
    if not person.orgs:
        return None
    found = organization_of(session, person.orgs)
    if found is None:
        log.warning("%s sign-in of %r: no organization matches %s; the user keeps %r", person.method,
                    person.name, ", ".join(repr(value) for value in person.orgs), user.org if user else None)
    return found


def organization_of(session: Session, values: Sequence[str]) -> str | None:
    """The first of `values` (nearest first) that is an organization's id, or the name of exactly one."""
    values = [value.strip() for value in values if value and value.strip()]
    ids = stored_orgs.named(session, values)
    by_name = stored_orgs.ids_by_name(session, values)
    for value in values:
        if value in ids:
            return value
        if len(by_name.get(value, ())) == 1:
            return by_name[value][0]
    return None
