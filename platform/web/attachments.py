"""Attachments on the web (issue 17, SPEC 10): the API's endpoints, and the pages' upload, download and removal.

Every file goes through the engine (`itsm.engine.runtime.attachments`): the allow-list, the size limit and
the ticket's visibility are decided there once. Bytes leave only through `file_response`: as a download
(`Content-Disposition: attachment`, the file's own name in RFC 6266/5987 form, an ASCII fallback for old
clients), with the content type of the allow-list, `X-Content-Type-Options: nosniff` and a sandboxing CSP, so
an uploaded file never runs as a page of this site. Only the raster images of the allow-list (whose first bytes
were checked when they came) are served `inline`, for the thumbnails on the ticket page; they are the original
bytes, scaled by the browser (docs/decisions.md, "Attachments").

A request to an endpoint that takes files may be as large as its files (`takes_files`), and no larger:
Werkzeug refuses a longer body before reading it (413), spools the files it parses to disk, and the engine
copies them into the attachments folder while counting; any other request keeps `MAX_CONTENT_LENGTH`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext, ngettext
from werkzeug.datastructures import FileStorage

from itsm.engine import EngineError
from itsm.engine.errors import N_, Gone
from itsm.engine.runtime.attachments import (
    Download,
    Upload,
    attach,
    attachments_of,
    check_visible,
    download,
    receive,
    receiving,
    remove,
)
from itsm.engine.runtime.file_types import DEFAULT_EXTENSIONS, IMAGE_TYPES, UploadPolicy, size_text

from .api import actor, api, authenticated, request_body
from .extension import current_engine
from .i18n import said
from .openapi import ATTACHMENT_KEYS
from .security import login_required, page_actor

files = Blueprint("attachments", __name__)
FIELD = "attachments"  # the file input of the pages' forms
MAX_FILES = 5  # files one page form sends at a time
FILE_CSP = "default-src 'none'; sandbox"  # a file opened in a tab runs nothing and reaches nothing
FORM_ROOM = 1 << 20  # bytes of a request that takes files beyond the files themselves (fields, multipart framing)
View = TypeVar("View", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    app.request_class = UploadRequest
    app.register_blueprint(files)
    app.jinja_env.filters["filesize"] = size_text
    app.jinja_env.globals.update(upload_policy=upload_policy, max_files=MAX_FILES, attachment_field=FIELD,
                                 allowed_files=allowed_text, image_types=IMAGE_TYPES)


def takes_files(count: int) -> Callable[[View], View]:
    """Mark a view whose requests carry up to `count` files (see UploadRequest)."""

    def mark(view: View) -> View:
        view.takes_files = count  # type: ignore[attr-defined]  # functools.wraps carries it to the wrappers
        return view

    return mark


class UploadRequest(Request):
    """A request whose endpoint `takes_files` may be `count` files at the size limit plus FORM_ROOM for the
    rest of the form; every other request keeps MAX_CONTENT_LENGTH."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None and self.url_rule is not None and current_app:
            view = current_app.view_functions.get(self.url_rule.endpoint or "")
            count = getattr(view, "takes_files", 0)
            if count:
                return count * current_engine().uploads.max_bytes + FORM_ROOM
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def upload_policy() -> UploadPolicy:
    return current_engine().uploads


def allowed_text() -> str:
    """What the file inputs say they take, in the reader's words."""
    policy = upload_policy()
    limit = size_text(policy.max_bytes)
    if policy.allowed == DEFAULT_EXTENSIONS:
        return gettext("Screenshots and photos, PDF, Office and WPS documents, text and log files, archives; "
                       "up to %(limit)s each.", limit=limit)
    return gettext("Files of type %(types)s; up to %(limit)s each.", types=", ".join(policy.allowed), limit=limit)


# -- the API (SPEC 10) ----------------------------------------------------------------------------------

@api.post("/tickets/<number>/attachments")
@authenticated
@takes_files(1)
def add_attachment(number: str) -> Any:
    engine = current_engine()
    body = request_body()  # checked against the declared multipart body (bodies.py): `file`, `internal`
    check_visible(engine, actor(), number)
    sent: FileStorage = body["file"]
    with receiving(engine) as uploads:
        uploads.append(receive(engine, sent.filename, sent.stream))
        added = attach(engine, actor(), number, uploads, internal=bool(body.get("internal")))
    return jsonify({key: added[0][key] for key in ATTACHMENT_KEYS}), 201


@api.get("/tickets/<number>/attachments")
@authenticated
def ticket_attachments(number: str) -> Any:
    return jsonify({"items": attachments_of(current_engine(), actor(), number)})


@api.get("/attachments/<int:attachment_id>")
@authenticated
def get_attachment(attachment_id: int) -> Any:
    return file_response(download(current_engine(), actor(), attachment_id))


@api.delete("/attachments/<int:attachment_id>")
@authenticated
def delete_attachment(attachment_id: int) -> Any:
    return jsonify(remove(current_engine(), actor(), attachment_id))


# -- the pages ---------------------------------------------------------------------------------------

@files.get("/attachments/<int:attachment_id>")
@login_required
def open_attachment(attachment_id: int) -> Any:
    """The file for people signed in; `?inline=1` shows an image in place (a thumbnail), anything else is
    always a download."""
    found = download(current_engine(), _actor(), attachment_id)
    return file_response(found, inline=request.args.get("inline") == "1")


@files.post("/tickets/<number>/attachments")
@login_required
@takes_files(MAX_FILES)
def upload(number: str) -> Any:
    """Files from the ticket page (agents may mark them internal)."""
    engine = current_engine()
    chosen = chosen_files()
    if not chosen:
        flash(gettext("Choose a file to attach."), "error")
    else:
        with receiving(engine) as uploads:
            problems = receive_all(chosen, uploads)
            for problem in problems:
                flash(problem, "error")
            if not problems:
                added = attach(engine, _actor(), number, uploads, internal=request.form.get("internal") == "on")
                flash(ngettext("%(num)d file attached.", "%(num)d files attached.", len(added)), "success")
    return redirect(url_for("ui.ticket", number=number) + "#attachments")


@files.post("/attachments/<int:attachment_id>/remove")
@login_required
def remove_attachment(attachment_id: int) -> Any:
    removed = remove(current_engine(), _actor(), attachment_id)
    flash(gettext("Removed %(name)s: it is no longer served.", name=removed["name"]), "success")
    return redirect(url_for("ui.ticket", number=removed["ticket"]) + "#attachments")


def _actor() -> Any:
    who = page_actor()
    assert who is not None  # login_required ran first
    return who


def chosen_files() -> list[FileStorage]:
    """The files of the pages' file input (an input left empty sends one part without a name)."""
    return [sent for sent in request.files.getlist(FIELD) if sent.filename]


def receive_all(chosen: list[FileStorage], uploads: list[Upload]) -> list[str]:
    """Take in the chosen files (into `uploads`, from `receiving`): what is wrong with them, in the reader's
    words (nothing: all were taken)."""
    if len(chosen) > MAX_FILES:
        return [gettext("At most %(most)s files at a time.", most=MAX_FILES)]
    problems = []
    for sent in chosen:
        try:
            uploads.append(receive(current_engine(), sent.filename, sent.stream))
        except EngineError as exc:
            problems.append(str(said(exc.message)))
    return problems


# -- serving the bytes -------------------------------------------------------------------------------

def file_response(found: Download, inline: bool = False) -> Response:
    """The kept bytes of an attachment, safely (see the module's docstring); a browser that has them already
    asks again and gets a 304 (ETag: the digest), or the 404/410 of a file it may no longer read."""
    try:
        response = send_file(found.path, mimetype=found.content_type, conditional=True, etag=found.sha256)
    except FileNotFoundError:  # removed since it was looked up (an administrator, just now)
        raise Gone(N_("the file of attachment %(id)s is no longer in the attachments folder", id=found.id)) from None
    kind = "inline" if inline and found.image else "attachment"
    response.headers["Content-Disposition"] = content_disposition(kind, found.name, found.id)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cache-Control"] = "private, no-cache"
    return response


_TOKEN_SAFE = re.compile(r"[^A-Za-z0-9 ._()+-]")


def content_disposition(kind: str, name: str, attachment_id: int) -> str:
    """`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf` (RFC 6266): the name as sent,
    percent-encoded (RFC 5987), which every current browser uses, and for older clients the name itself when it
    is plain ASCII, else `attachment-12.png` (a Chinese name has no ASCII spelling worth guessing)."""
    extension = name.rpartition(".")[2] if "." in name else ""
    plain = name if name.isascii() else f"attachment-{attachment_id}" + (f".{extension}" if extension else "")
    plain = _TOKEN_SAFE.sub("_", plain if plain.isascii() else f"attachment-{attachment_id}")
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='!#$&+-.^_`|~')}"
