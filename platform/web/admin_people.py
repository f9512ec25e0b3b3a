"""Users and organizations in the admin area (SPEC 13 and 14): find among 100,000 users and 11,000 units
(a search box and pages, never a list of everything), create, edit, disable and enable, make admin or an
organization's contact, reset a password; the organization tree browsed a level at a time with counts.

Routes of the `admin` blueprint (admins only). Every change goes through `itsm.engine.people`, the same
operations as `/api/users` and `/api/orgs`, so pages and API check values alike.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from itsm.engine import Conflict, EngineError, NotFound, ValidationFailed
from itsm.engine.people.accounts import create_user, find_users, get_user, reset_password, update_user
from itsm.engine.people.org_admin import create_org, find_orgs, get_org, lineage_of, org_names, update_org

from .admin import admin
from .api_people import decode_cursor, encode_cursor
from .extension import current_engine
from .i18n import LANGUAGES, said
from .security import admin_required, page_actor

PAGE = 50
STATUSES = ("", "active", "disabled")


def init_app(app: Flask) -> None:
    """Nothing to do: importing this module adds its routes to the `admin` blueprint, before it is registered."""


def _cursor(kind: str) -> str | None:
    try:
        return decode_cursor(kind, request.args.get("cursor"))
    except EngineError:
        return None  # a cursor edited by hand: the first page


def _status(value: str | None) -> bool | None:
    return {"active": True, "disabled": False}.get(value or "")


def _problems(exc: EngineError) -> dict[str, str]:
    """A refusal's problems by field, in the page's language ("" for the request as a whole)."""
    found: dict[str, str] = {}
    for detail in exc.details:
        field = str(detail.get("field", ""))
        found[field] = "; ".join(p for p in (found.get(field), str(said(detail.get("message", "")))) if p)
    if not exc.details:
        found[""] = str(said(exc.message))
    return found


def _me() -> str:
    actor = page_actor()
    assert actor is not None  # admin_required ran first
    return actor.name


# -- users ----------------------------------------------------------------------------------------------

@admin.get("/users")
@admin_required
def users() -> Any:
    args = request.args
    filters = {"q": args.get("q", "").strip(), "org": args.get("org", "").strip(),
               "status": args.get("status", "") if args.get("status") in STATUSES else "",
               "role": args.get("role", "") if args.get("role") in ("", "admin", "org_contact") else ""}
    error = None
    try:
        found = find_users(current_engine().db, text=filters["q"] or None, org=filters["org"] or None,
                           active=_status(filters["status"]), admin=True if filters["role"] == "admin" else None,
                           org_contact=True if filters["role"] == "org_contact" else None, after=_cursor("u"),
                           limit=PAGE)
        items, after = found.items, found.after
    except EngineError as exc:  # an organization nobody has
        error, items, after = said(exc.message), [], None
    shown: dict[str, Any] = {k: v for k, v in filters.items() if v}
    next_url = url_for("admin.users", **shown, cursor=encode_cursor("u", after)) if after else None
    first_url = url_for("admin.users", **shown) if request.args.get("cursor") else None
    return render_template("admin_users.html", items=items, filters=filters, error=error, next_url=next_url,
                           first_url=first_url)


def _user_form() -> dict[str, Any]:
    """The user form's values as the engine takes them: empty texts clear, unticked boxes are false."""
    form = request.form
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in
                              ("email", "full_name", "org", "locale", "timezone")}
    values.update({name: form.get(name) == "on" for name in ("vip", "admin", "org_contact")})
    return values


def _user_page(user: dict[str, Any] | None, values: dict[str, Any], problems: dict[str, str] | None = None,
               password: str | None = None, status: int = 200) -> Any:
    return render_template("admin_user.html", user=user, values=values, problems=problems or {},
                           password=password, languages=sorted(set(LANGUAGES.values())), me=_me()), status


@admin.route("/new-user", methods=["GET", "POST"])  # not under /users/: "new" may be a user name
@admin_required
def new_user() -> Any:
    if request.method == "GET":
        return _user_page(None, {"org": request.args.get("org", "")})
    values = {**_user_form(), "name": request.form.get("name", "").strip()}
    if request.form.get("password"):
        values["password"] = request.form["password"]
    try:
        created = create_user(current_engine().db, values)
    except (ValidationFailed, Conflict) as exc:
        problems = _problems(exc)
        if isinstance(exc, Conflict):
            problems = {"name": str(said(exc.message))}
        return _user_page(None, values, problems, status=exc.status)
    flash(gettext("User %(name)s created.", name=created["name"]), "success")
    return redirect(url_for("admin.user", name=created["name"]))


@admin.get("/users/<name>")
@admin_required
def user(name: str) -> Any:
    found = _existing_user(name)
    return _user_page(found, found)


def _existing_user(name: str) -> dict[str, Any]:
    try:
        return get_user(current_engine().db, name)
    except NotFound:
        abort(404, gettext("There is no user '%(name)s'.", name=name))


@admin.post("/users/<name>")
@admin_required
def save_user(name: str) -> Any:
    found = _existing_user(name)
    values = _user_form()
    try:
        update_user(current_engine().db, _me(), name, values)
    except (ValidationFailed, Conflict) as exc:
        return _user_page(found, {**found, **values}, _problems(exc), status=exc.status)
    flash(gettext("Saved."), "success")
    return redirect(url_for("admin.user", name=name))


@admin.post("/users/<name>/active")
@admin_required
def set_user_active(name: str) -> Any:
    """Disable (their sessions end, their tokens stop working) or enable a user."""
    _existing_user(name)
    active = request.form.get("active") == "true"
    try:
        update_user(current_engine().db, _me(), name, {"active": active})
    except Conflict as exc:
        flash(str(said(exc.message)), "error")
        return redirect(url_for("admin.user", name=name))
    flash(gettext("%(name)s is enabled and can sign in again.", name=name) if active else
          gettext("%(name)s is disabled: they cannot sign in and their API tokens are refused.", name=name),
          "success")
    return redirect(url_for("admin.user", name=name))


@admin.post("/users/<name>/password")
@admin_required
def set_user_password(name: str) -> Any:
    """A new password: the one typed, or a generated one shown once on the page answering (not flashed: a
    flash would sit in the session cookie)."""
    found = _existing_user(name)
    typed = request.form.get("password", "")
    try:
        if typed:
            update_user(current_engine().db, _me(), name, {"password": typed})
            password = None
        else:
            password = reset_password(current_engine().db, _me(), name)
    except ValidationFailed as exc:
        return _user_page(found, found, _problems(exc), status=exc.status)
    if password is None:
        flash(gettext("The password of %(name)s is changed; their sessions have ended.", name=name), "success")
        return redirect(url_for("admin.user", name=name))
    return _user_page(get_user(current_engine().db, name), found, password=password)


# -- organizations --------------------------------------------------------------------------------------

@admin.get("/orgs")
@admin_required
def orgs() -> Any:
    """The tree a level at a time (`parent`: whose children; none: the roots), or what a search finds."""
    db = current_engine().db
    q, parent = request.args.get("q", "").strip(), request.args.get("parent", "").strip()
    node = None
    if parent and not q:
        try:
            node = get_org(db, parent)
        except NotFound:
            abort(404, gettext("There is no organization '%(org)s'.", org=parent))
    found = find_orgs(db, text=q or None, parent=None if q else parent or None, roots=not q and not parent,
                      after=_cursor("o"), limit=PAGE)
    shown: dict[str, Any] = {k: v for k, v in (("q", q), ("parent", "" if q else parent)) if v}
    next_url = url_for("admin.orgs", **shown, cursor=encode_cursor("o", found.after)) if found.after else None
    first_url = url_for("admin.orgs", **shown) if request.args.get("cursor") else None
    names = org_names(db, {i for item in found.items for i in item["path"]})
    return render_template("admin_orgs.html", items=found.items, q=q, node=node,
                           lineage=lineage_of(db, parent) if node else [], names=names, next_url=next_url,
                           first_url=first_url)


def _org_form() -> dict[str, Any]:
    form = request.form
    domains = [d for d in form.get("domains", "").replace(",", " ").split() if d]
    return {"name": form.get("name", "").strip(), "parent": form.get("parent", "").strip() or None,
            "domains": domains, "vip": form.get("vip") == "on"}


def _org_page(org: dict[str, Any] | None, values: dict[str, Any], problems: dict[str, str] | None = None,
              status: int = 200) -> Any:
    parent = values.get("parent")
    return render_template("admin_org.html", org=org, values=values, problems=problems or {},
                           lineage=lineage_of(current_engine().db, parent) if parent else []), status


@admin.route("/new-org", methods=["GET", "POST"])  # not under /orgs/: "new" may be an id
@admin_required
def new_org() -> Any:
    if request.method == "GET":
        return _org_page(None, {"parent": request.args.get("parent", "").strip() or None, "domains": []})
    values = {**_org_form(), "id": request.form.get("id", "").strip()}
    try:
        created = create_org(current_engine().db, values)
    except (ValidationFailed, Conflict) as exc:
        problems = _problems(exc)
        if isinstance(exc, Conflict) and not exc.details:
            problems = {"id": str(said(exc.message))}
        return _org_page(None, values, problems, status=exc.status)
    flash(gettext("Organization %(name)s created.", name=created["name"]), "success")
    return redirect(url_for("admin.orgs", parent=created["parent"]) if created["parent"] else url_for("admin.orgs"))


def _existing_org(org_id: str) -> dict[str, Any]:
    try:
        return get_org(current_engine().db, org_id)
    except NotFound:
        abort(404, gettext("There is no organization '%(org)s'.", org=org_id))


@admin.get("/orgs/<org_id>")
@admin_required
def org(org_id: str) -> Any:
    found = _existing_org(org_id)
    return _org_page(found, found)


@admin.post("/orgs/<org_id>")
@admin_required
def save_org(org_id: str) -> Any:
    found = _existing_org(org_id)
    values = _org_form()
    try:
        update_org(current_engine().db, org_id, values)
    except (ValidationFailed, Conflict) as exc:
        return _org_page(found, {**found, **values}, _problems(exc), status=exc.status)
    flash(gettext("Saved."), "success")
    return redirect(url_for("admin.org", org_id=org_id))


@admin.post("/orgs/<org_id>/active")
@admin_required
def set_org_active(org_id: str) -> Any:
    _existing_org(org_id)
    active = request.form.get("active") == "true"
    update_org(current_engine().db, org_id, {"active": active})
    flash(gettext("The organization is enabled.") if active else
          gettext("The organization is disabled: no new users are placed in it and its mail domains no longer "
                  "create users. Its users can still sign in."), "success")
    return redirect(url_for("admin.org", org_id=org_id))
