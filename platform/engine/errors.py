"""Engine errors: each maps to one HTTP status of SPEC 10, so web, CLI and scenarios agree.

Their messages are said in any language without the engine knowing about languages: a message is a `Text`,
the English string it always was that also keeps its template (marked for extraction with `N_`) and its named
values; the web layer says it as `gettext(template) % values` in the request's language (docs/translating.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Translate = Callable[[str], str]  # a template in the reader's language (the web layer's `gettext`)


class Text(str):
    """English text that can be said in another language: it *is* the English string (so `str()`, equality,
    JSON and logs see exactly what they always saw) and keeps its template and values for `say`."""

    template: str
    values: Mapping[str, Any]

    def __new__(cls, template: str, values: Mapping[str, Any] | None = None) -> Text:
        values = dict(values or {})
        text = super().__new__(cls, template % values if values else template)
        text.template, text.values = template, values
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return Text, (self.template, self.values)

    def say(self, translate: Translate) -> str:
        """The text in the language `translate` speaks; values that are texts too are said in it as well, pack
        ids, numbers and what people typed stay as they are."""
        template = translate(self.template)
        if not self.values:
            return template
        return template % {name: say(value, translate) for name, value in self.values.items()}


def N_(template: str, /, **values: Any) -> Text:  # noqa: N802 - the name gettext tools know for "translate later"
    """A message for people, marked for `pybabel extract` (keyword `N_`), with its named values:
    `N_("no ticket %(number)s", number=number)`. A literal % in a template with values is written %%."""
    return Text(template, values)


class Joined(Text):
    """Texts in a row, as `"; ".join` writes them in English and the reader's language separates them."""

    def __new__(cls, parts: Sequence[str]) -> Joined:
        text = str.__new__(cls, "; ".join(parts))
        text.template, text.values = "; ".join(parts), {"parts": tuple(parts)}
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return Joined, (self.values["parts"],)

    def say(self, translate: Translate) -> str:
        return str(say(SEPARATOR, translate)).join(str(say(part, translate)) for part in self.values["parts"])


def joined(parts: Sequence[str]) -> str:
    """`"; ".join(parts)` that is said in the reader's language when some parts are texts."""
    return Joined(parts) if any(isinstance(part, Text) for part in parts) else "; ".join(parts)


def any_of(choices: Sequence[str]) -> str:
    """'a or b or c' (pack ids), said in the reader's language ("a 或 b 或 c")."""
    if len(choices) < 2:
        return "".join(choices)
    return N_("%(first)s or %(rest)s", first=choices[0], rest=any_of(choices[1:]))


def field_problems(problems: Sequence[Mapping[str, Any]]) -> str:
    """"field: problem; field: problem" (a 422's message, a body's 400), said in the reader's language."""
    return joined([N_("%(field)s: %(problem)s", field=p["field"], problem=p["message"]) for p in problems])


def say(text: Any, translate: Translate | None) -> Any:
    """`text` in the language of `translate` when it is a `Text`; anything else as it is."""
    return text.say(translate) if isinstance(text, Text) and translate is not None else text


SEPARATOR = N_("; ")  # between the problems of one message


class EngineError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_dict(self, translate: Translate | None = None) -> dict[str, Any]:
        """The API's error body (SPEC 10), in English or in the language `translate` speaks."""
        details = [{**d, "message": say(d["message"], translate)} if "message" in d else d for d in self.details]
        return {"error": self.code, "message": str(say(self.message, translate)), "details": details}


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


class AccountDisabled(Forbidden):
    """A disabled user signing in (SPEC 14): the right password, but no session."""

    status, code = 403, "account_disabled"


class NotFound(EngineError):
    status, code = 404, "not_found"


class Gone(EngineError):
    """It was there and was removed on purpose (an attachment an administrator removed)."""

    status, code = 410, "gone"


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


class Unavailable(EngineError):
    """A service the request needs cannot be reached (the directory, the identity provider): try again later."""

    status, code = 503, "unavailable"


class ValidationFailed(EngineError):
    """Field validation: details are [{"field": ID, "message": TEXT}]."""

    status, code = 422, "validation_failed"


class PublishRefused(EngineError):
    status, code = 409, "publish_refused"
