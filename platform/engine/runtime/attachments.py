"""Attachments of tickets (issue 17, SPEC 10): files added from the portal, the ticket page, the API and mail.

A file is received first, outside any transaction (`receive`: its name cleaned, its type checked against the
allow-list, its bytes streamed into the attachments folder's temporary area while their digest is computed,
refused as soon as they pass the size limit, its first bytes deciding whether it is kept as its format or as
plain bytes: `file_types`), so a slow sender never holds the database. Then one write transaction records it
(`attach`, `create_with`, or `add_to` inside a caller's transaction): the bytes put in place under their
digest, a row in `attachments`, and an `attachment` event in the ticket's timeline. Whatever was received and
not kept is dropped (`receiving`).

Visibility is the ticket's: whoever may see the ticket may read and add its attachments, and anyone else gets
the ticket's 404. Internal attachments (agents only, like internal comments) are never shown to requesters,
nor are their events. An administrator may remove an attachment: its row stays (who, when), an
`attachment_removed` event is written, the bytes are no longer served (410), and they are deleted from the
folder when no other attachment names them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from itsm.store import Attachment
from itsm.store import attachments as stored
from itsm.store.files import FileTooLarge, Received

from ..boundary import guarded
from ..errors import N_, Forbidden, Gone, NotFound
from .access import is_agent
from .actors import Actor
from .apply import create, perform
from .file_types import IMAGE_TYPES, FileType, clean_name, file_type, stored_type, too_large
from .rules import Context, Request, plan_comment, plan_note, working
from .snapshot import TicketSnapshot

if TYPE_CHECKING:
    from .engine import Engine

ADDED, REMOVED = "attachment", "attachment_removed"  # the events' kinds
EVENT_KINDS = frozenset({ADDED, REMOVED})


@dataclass(frozen=True)
class Upload:
    """A received file, checked and in the temporary area, not yet kept."""

    name: str
    kind: FileType
    received: Received

    @property
    def sha256(self) -> str:
        return self.received.sha256


@dataclass(frozen=True)
class Download:
    """What a reader of an attachment gets: its kept bytes (`path`) and how to serve them."""

    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    path: Path

    @property
    def image(self) -> bool:
        """A raster image of the allow-list, whose first bytes were checked when it came: may be shown inline."""
        return self.content_type in IMAGE_TYPES


def receive(engine: Engine, name: str | None, source: BinaryIO) -> Upload:
    """Check and take in one file (see the module's docstring): 400 without a usable name, 415 for a type not
    allowed, 413 over the size limit, 422 when empty. Nothing stays behind when it is refused."""
    policy = engine.uploads
    clean = clean_name(name)
    kind = file_type(clean, policy)
    try:
        received = engine.files.receive(source, policy.max_bytes)
    except FileTooLarge:
        raise too_large(clean, policy) from None
    try:
        kind = stored_type(clean, kind, received.head)
    except BaseException:
        engine.files.discard(received)
        raise
    return Upload(clean, kind, received)


@contextmanager
def receiving(engine: Engine) -> Iterator[list[Upload]]:
    """A list to put received files in: those the block did not keep are dropped when it ends."""
    uploads: list[Upload] = []
    try:
        yield uploads
    finally:
        for upload in uploads:
            engine.files.discard(upload.received)  # nothing left to drop once kept


@guarded
def check_visible(engine: Engine, actor: Actor, number: str) -> None:
    """404 unless `actor` may see ticket `number`: asked before a file is copied into the folder, so nobody
    fills it with files for tickets they cannot see."""
    with engine.db.read() as session:
        engine.load(session, actor, number)


@guarded
def attach(engine: Engine, actor: Actor, number: str, uploads: Sequence[Upload], *, internal: bool = False,
           comment: str | None = None, skip_known: bool = False) -> list[dict[str, Any]]:
    """Add the received files to ticket `number` (after a public `comment`, when given), in one transaction:
    the attachments as `shown` (`skip_known`: see `add_to`)."""
    with engine.db.write() as session:
        context = engine.context(session)
        snapshot = engine.load(session, actor, number, for_update=True, context=context)
        work = working(context, snapshot, actor, engine.clock())
        if internal and not is_agent(work):
            raise Forbidden(N_("only agents add internal attachments"))
        if comment:
            snapshot = perform(session, engine.db, context, plan_comment(work, comment, False)).snapshot
        return add_to(session, engine, context, snapshot, actor, uploads, internal=internal, skip_known=skip_known)


@guarded
def create_with(engine: Engine, actor: Actor, process: str, fields: dict[str, Any], uploads: Sequence[Upload],
                channel: str | None = None, requester: str | None = None) -> dict[str, Any]:
    """A new ticket of `process` with the received files attached, in one transaction: the ticket as `actor`
    sees it (a report from the portal with its screenshot). `requester`: an agent records it on behalf of
    that user (a phone call)."""
    with engine.db.write() as session:
        context = engine.context(session)
        request = Request("create", actor, engine.clock(), process=process, values=dict(fields), channel=channel,
                          requester=requester or None)
        created = create(session, engine.db, context, request).snapshot
        add_to(session, engine, context, created, actor, uploads)
        return engine.show(context, created, actor)


def add_to(session: Session, engine: Engine, context: Context, ticket: TicketSnapshot, actor: Actor,
           uploads: Sequence[Upload], *, internal: bool = False, skip_known: bool = False) -> list[dict[str, Any]]:
    """Keep the files and record them on `ticket` in the caller's transaction, each with its `attachment`
    event by `actor`. `skip_known`: a file the ticket has already is left out (the logo in every reply)."""
    assert ticket.ticket.id is not None
    now = engine.clock()
    for digest in sorted({upload.sha256 for upload in uploads}):  # in one order: two uploads never deadlock
        stored.lock_digest(session, digest)  # a removal of the same bytes waits (store.attachments)
    added = []
    for upload in uploads:
        received = upload.received
        if skip_known and stored.ticket_has(session, ticket.ticket.id, received.sha256):
            continue
        engine.files.keep(received)
        row = stored.insert(session, ticket.ticket.id, name=upload.name, size=received.size,
                            content_type=upload.kind.content_type, sha256=received.sha256, internal=internal,
                            uploaded_by=actor.name, uploaded_at=now)
        data = {"id": row.id, "name": row.name, "size": row.size, "content_type": row.content_type,
                "sha256": row.sha256, "internal": internal}
        perform(session, engine.db, context, plan_note(working(context, ticket, actor, now), ADDED, data))
        added.append(shown(row, ticket.ticket.number, ZoneInfo(context.compiled.pack.timezone)))
    return added


@guarded
def attachments_of(engine: Engine, actor: Actor, number: str) -> list[dict[str, Any]]:
    """The ticket's attachments that are not removed, oldest first; requesters do not see internal ones."""
    with engine.db.read() as session:
        work = engine.open(session, actor, number)
        assert work.ticket.id is not None
        zone = ZoneInfo(work.pack.timezone)
        return [shown(row, number, zone)
                for row in stored.of_ticket(session, work.ticket.id, public_only=not is_agent(work))]


@guarded
def download(engine: Engine, actor: Actor, attachment_id: int) -> Download:
    """The bytes of an attachment for `actor`: 404 when they may not see it (as for its ticket), 410 when it
    was removed (or its bytes are missing from the folder)."""
    with engine.db.read() as session:
        row, _ = _visible(session, engine, actor, attachment_id)
    if row.removed_at is not None:
        raise Gone(N_("attachment %(id)s was removed by %(user)s", id=attachment_id, user=row.removed_by))
    path = engine.files.path(row.sha256)
    if not path.is_file():
        raise Gone(N_("the file of attachment %(id)s is no longer in the attachments folder", id=attachment_id))
    return Download(row.id, row.name, row.content_type, row.size, row.sha256, path)


@guarded
def remove(engine: Engine, actor: Actor, attachment_id: int) -> dict[str, Any]:
    """Administrators remove an attachment (see the module's docstring): the attachment as it now is."""
    if not actor.is_admin:
        raise Forbidden(N_("only administrators remove attachments"))
    with engine.db.write() as session:
        row, number = _visible(session, engine, actor, attachment_id)
        context = engine.context(session)
        ticket = engine.load(session, actor, number, for_update=True, context=context)
        now = engine.clock()
        if not stored.mark_removed(session, attachment_id, actor.name, now):
            raise Gone(N_("attachment %(id)s was removed by %(user)s", id=attachment_id, user=row.removed_by))
        session.refresh(row)
        perform(session, engine.db, context, plan_note(working(context, ticket, actor, now), REMOVED, {
            "id": row.id, "name": row.name, "sha256": row.sha256, "internal": row.internal}))
        stored.lock_digest(session, row.sha256)  # an upload of the same bytes waits until this one is done
        if not stored.digest_in_use(session, row.sha256):
            engine.files.delete(row.sha256)
        return shown(row, number, ZoneInfo(context.compiled.pack.timezone))


def _visible(session: Session, engine: Engine, actor: Actor, attachment_id: int) -> tuple[Attachment, str]:
    """The attachment and its ticket's number, if `actor` may see it (404 otherwise, whether or not it exists)."""
    missing = NotFound(N_("no attachment %(id)s", id=attachment_id))
    if not 0 < attachment_id < 2**63:  # what a bigint holds
        raise missing
    found = stored.with_ticket_number(session, attachment_id)
    if found is None:
        raise missing
    row, number = found
    try:
        work = engine.open(session, actor, number)
    except NotFound:
        raise missing from None
    if row.internal and not is_agent(work):
        raise missing
    return row, number


def shown(row: Attachment, number: str, zone: ZoneInfo) -> dict[str, Any]:
    """An attachment as the API lists it (SPEC 10's keys first), times in the pack's zone."""
    return {"id": row.id, "name": row.name, "size": row.size, "content_type": row.content_type, "sha256": row.sha256,
            "ticket": number, "internal": row.internal, "uploaded_by": row.uploaded_by,
            "uploaded_at": row.uploaded_at.astimezone(zone).isoformat(),
            "removed_at": row.removed_at.astimezone(zone).isoformat() if row.removed_at else None,
            "removed_by": row.removed_by}
