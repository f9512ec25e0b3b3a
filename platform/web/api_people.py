"""`/api/orgs` and `/api/users` (SPEC 10 and 14): admins find, create and edit organizations and users.

Routes of the `api` blueprint (bearer tokens, bodies checked against openapi.py before the view runs);
everyone but admins gets a 403 before the body is read. Lists page with an opaque cursor, like the queue.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify, request

from itsm.engine import BadRequest, Forbidden
from itsm.engine.errors import N_
from itsm.engine.people.accounts import create_user, find_users, get_user, update_user
from itsm.engine.people.lookup import MAX_PEOPLE, find_people
from itsm.engine.people.org_admin import create_org, find_orgs, get_org, update_org

from .api import MAX_LIMIT, actor, admins_only, api, authenticated, request_body
from .extension import current_engine

ORG_QUERY = ("q", "parent", "active", "limit", "cursor")
USER_QUERY = ("q", "org", "active", "admin", "org_contact", "limit", "cursor")
TRUTH = {"true": True, "1": True, "false": False, "0": False}


def init_app(app: Flask) -> None:
    """Nothing to do: importing this module adds its routes to the `api` blueprint, before it is registered."""


def query(allowed: tuple[str, ...]) -> Mapping[str, str]:
    unknown = [key for key in request.args if key not in allowed]
    if unknown:
        raise BadRequest(N_("unknown query parameter '%(name)s' (expected %(known)s)", name=unknown[0],
                            known=", ".join(allowed)),
                         [{"field": key, "message": N_("unknown parameter")} for key in unknown])
    return request.args


def flag(args: Mapping[str, str], name: str) -> bool | None:
    """`true`/`false` (or 1/0) of a query parameter; None when it is absent or empty."""
    value = (args.get(name) or "").strip().lower()
    if not value:
        return None
    if value not in TRUTH:
        raise BadRequest(N_("%(name)s must be true or false", name=name),
                         [{"field": name, "message": N_("true or false")}])
    return TRUTH[value]


def page_size(args: Mapping[str, str]) -> int:
    try:
        limit = int(args.get("limit") or 50)
    except ValueError:
        raise BadRequest(N_("limit must be an integer"),
                         [{"field": "limit", "message": N_("not an integer")}]) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(N_("limit must be between 1 and %(most)s", most=MAX_LIMIT),
                         [{"field": "limit", "message": N_("between 1 and %(most)s", most=MAX_LIMIT)}])
    return limit


def encode_cursor(kind: str, after: str | None) -> str | None:
    return base64.urlsafe_b64encode(f"{kind}:{after}".encode()).decode() if after is not None else None


def decode_cursor(kind: str, text: str | None) -> str | None:
    if not text:
        return None
    try:
        found, _, after = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
        if found != kind or not after:
            raise ValueError
        return after
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(N_("invalid cursor: pass the next_cursor of the previous page unchanged"),
                         [{"field": "cursor", "message": N_("not a cursor this API gave")}]) from None


# -- organizations --------------------------------------------------------------------------------------

@api.get("/orgs")
@authenticated
@admins_only
def list_orgs() -> Any:
    """`q` in the id or name; `parent=ID` its children, `parent=` (empty) the roots; in the tree's order."""
    args = query(ORG_QUERY)
    parent = args.get("parent")
    found = find_orgs(current_engine().db, text=args.get("q"), parent=parent or None, roots=parent == "",
                      active=flag(args, "active"), after=decode_cursor("o", args.get("cursor")),
                      limit=page_size(args))
    return jsonify({"items": found.items, "next_cursor": encode_cursor("o", found.after)})


@api.post("/orgs")
@authenticated
@admins_only
def add_org() -> Any:
    return jsonify(create_org(current_engine().db, request_body())), 201


@api.get("/orgs/<org_id>")
@authenticated
@admins_only
def show_org(org_id: str) -> Any:
    return jsonify(get_org(current_engine().db, org_id))


@api.patch("/orgs/<org_id>")
@authenticated
@admins_only
def edit_org(org_id: str) -> Any:
    return jsonify(update_org(current_engine().db, org_id, request_body()))


# -- users ----------------------------------------------------------------------------------------------

@api.get("/users")
@authenticated
def list_users() -> Any:
    """Admins: `q` in the name, full name or mail address; `org` its subtree's members; by name. Agents: the
    people they may record tickets for, `q` in the name, full name, mail or organization (`limit` at most
    20; name, full name, mail and organization only: `directory.find_people`)."""
    if not actor().is_admin:
        if not (actor().teams or actor().is_system):
            raise Forbidden(N_("only administrators manage users and organizations"))
        args = query(("q", "limit"))
        limit = min(page_size(args), MAX_PEOPLE)
        return jsonify({"items": find_people(current_engine(), actor(), args.get("q") or "", limit),
                        "next_cursor": None})
    args = query(USER_QUERY)
    found = find_users(current_engine().db, text=args.get("q"), org=args.get("org") or None,
                       active=flag(args, "active"), admin=flag(args, "admin"), org_contact=flag(args, "org_contact"),
                       after=decode_cursor("u", args.get("cursor")), limit=page_size(args))
    return jsonify({"items": found.items, "next_cursor": encode_cursor("u", found.after)})


@api.post("/users")
@authenticated
@admins_only
def add_user() -> Any:
    return jsonify(create_user(current_engine().db, request_body())), 201


@api.get("/users/<name>")
@authenticated
@admins_only
def show_user(name: str) -> Any:
    return jsonify(get_user(current_engine().db, name))


@api.patch("/users/<name>")
@authenticated
@admins_only
def edit_user(name: str) -> Any:
    return jsonify(update_user(current_engine().db, actor().name, name, request_body()))
