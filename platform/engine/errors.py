"""Engine errors: each maps to one HTTP status of SPEC 10, so web, CLI and scenarios agree."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class BadRequest(EngineError):
    status, code = 400, "bad_request"


class Unauthorized(EngineError):
    status, code = 401, "unauthorized"


class TooManyAttempts(Unauthorized):
    """Sign-ins refused for a while after repeated wrong passwords (docs/decisions.md, "Web pages")."""

    status, code = 429, "too_many_attempts"

    def __init__(self, message: str, minutes: int = 1):
        super().__init__(message)
        self.minutes = minutes  # how long until the next try: the login page says it in the reader's language


class Forbidden(EngineError):
    status, code = 403, "forbidden"


class NotFound(EngineError):
    status, code = 404, "not_found"


class Conflict(EngineError):
    """Not allowed in this state, guard false, stale version, a failing action."""

    status, code = 409, "conflict"


class StaleVersion(Conflict):
    code = "stale_version"


class ActionFailed(Conflict):
    code = "action_failed"


class DefinitionFailed(Conflict):
    """A rule of the active pack cannot be applied to this ticket (a calendar without working time, a
    routing without a rule that matches): nothing is saved; the message names the rule (engine/boundary.py)."""

    code = "definition_failed"


class ValidationFailed(EngineError):
    """Field validation: details are [{"field": ID, "message": TEXT}]."""

    status, code = 422, "validation_failed"


class PublishRefused(EngineError):
    status, code = 409, "publish_refused"
