"""Triage models (SPEC 16): stored trainings, and the solved tickets a training reads.

A model is a row of `triage_models` (its bytes are written and read by `itsm.triage`); the newest row of a
process is the one every host serves. Which tickets count as solved is the engine's `Knowledge`, as for
known errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, func, insert, select
from sqlalchemy.orm import Session

from .models import Ticket, TriageModelRow

MODELS = cast(Table, TriageModelRow.__table__)
_SUMMARY = [c for c in MODELS.c if c.name != "data"]


def save(session: Session, *, process: str, definitions_version: str, trained_at: datetime, trained_by: str,
         tickets: int, eligible: int, targets: Sequence[str], metrics: dict[str, Any], data: bytes) -> int:
    """A new model of `process`, from now on the one served; returns its id."""
    return int(session.execute(insert(MODELS).returning(MODELS.c.id), {
        "process": process, "definitions_version": definitions_version, "trained_at": trained_at,
        "trained_by": trained_by, "tickets": tickets, "eligible": eligible, "targets": list(targets),
        "metrics": metrics, "data": data}).scalar_one())


def latest(session: Session, process: str) -> Row[Any] | None:
    """The newest model of `process` without its bytes (id, process, definitions_version, trained_at,
    trained_by, tickets, eligible, targets, metrics), or None."""
    return session.execute(select(*_SUMMARY).where(MODELS.c.process == process)
                           .order_by(MODELS.c.id.desc()).limit(1)).first()


def latest_id(session: Session, process: str) -> int | None:
    """The id of the newest model of `process` (one index probe: asked on every suggestion)."""
    return session.scalar(select(func.max(MODELS.c.id)).where(MODELS.c.process == process))


def data_of(session: Session, model_id: int) -> bytes | None:
    return session.scalar(select(MODELS.c.data).where(MODELS.c.id == model_id))


def trainings(session: Session, process: str | None = None, limit: int = 20) -> list[Row[Any]]:
    """The newest trainings (of `process`, if given) without their bytes, newest first."""
    query = select(*_SUMMARY).order_by(MODELS.c.id.desc()).limit(limit)
    if process is not None:
        query = query.where(MODELS.c.process == process)
    return list(session.execute(query))


def solved(session: Session, where: Sequence[ColumnElement[bool]], limit: int) -> list[Row[Any]]:
    """(id, fields, team) of the newest `limit` tickets matching `where` (the engine's solved tickets of a
    process), newest first."""
    return list(session.execute(select(Ticket.id, Ticket.fields, Ticket.team).where(*where)
                                .order_by(Ticket.id.desc()).limit(limit)))


def count(session: Session, where: Sequence[ColumnElement[bool]]) -> int:
    return int(session.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0)
