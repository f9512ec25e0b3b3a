"""One-click rating links in mail (issue 17): a signed, expiring link that opens the requester's confirm form
with a rating chosen. Pure: HMAC-SHA256 over the link's facts with a key derived from the session secret.

The link only opens a form: the requester signs in, sees the rating preselected and clicks to confirm; it
never changes a ticket by itself (docs/decisions.md, "One-click rating links"). It names the ticket, the person
it was sent to, the transition, the rating field and value, and when it stops working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsm.interpreter import model as m

VALID_FOR = timedelta(days=14)  # longer than any quiet period before an automatic close
_PURPOSE = b"itsm rating link v1"


class LinkRefused(Exception):
    """The link cannot be used: `reason` is `invalid` (altered, truncated, not ours) or `expired`."""

    def __init__(self, reason: str, link: RatingLink | None = None):
        super().__init__(reason)
        self.reason = reason
        self.link = link  # an expired link's facts (its ticket), to send the reader there instead


@dataclass(frozen=True)
class RatingLink:
    number: str
    user: str
    transition: str
    field: str
    value: int
    expires: datetime


def link_key(secret: str) -> bytes:
    """A key of its own for links, derived from the session secret (a link is not a session cookie)."""
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, link: RatingLink) -> str:
    facts = {"n": link.number, "u": link.user, "t": link.transition, "f": link.field, "v": link.value,
             "e": int(link.expires.timestamp())}
    payload = _b64(json.dumps(facts, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{payload}.{_b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


def read(key: bytes, token: str, now: datetime) -> RatingLink:
    """The link's facts if `token` is one we signed and it has not expired (`LinkRefused` otherwise)."""
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        raise LinkRefused("invalid")
    try:
        facts: dict[str, Any] = json.loads(_unb64(payload))
        link = RatingLink(str(facts["n"]), str(facts["u"]), str(facts["t"]), str(facts["f"]), int(facts["v"]),
                          datetime.fromtimestamp(int(facts["e"]), UTC))
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkRefused("invalid") from exc
    if now >= link.expires:
        raise LinkRefused("expired", link)
    return link


@dataclass(frozen=True)
class Links:
    """How mail links are made: the address people open the pages at (`ITSM_PUBLIC_URL`) and the key."""

    base_url: str
    key: bytes
    valid_for: timedelta = VALID_FOR

    def ticket(self, number: str) -> str:
        return f"{self.base_url}/tickets/{number}"

    def rating(self, link: RatingLink) -> str:
        return f"{self.base_url}/rate/{sign(self.key, link)}"

    def for_ticket(self, form: m.FormSpec, process: m.ProcessSpec, number: str, state: str, requester: str,
                   now: datetime) -> dict[str, Any]:
        """`{{ links.ticket }}` and `{{ links.rate[1] }}` .. `{{ links.rate[5] }}` for a notification's
        template (empty when the ticket's state offers no rating transition to its requester)."""
        rate: dict[int, str] = {}
        step = rating_transition(form, process, state)
        if step is not None and number:
            transition, spec = step
            low, high = int(spec.min if spec.min is not None else 1), int(spec.max if spec.max is not None else 5)
            expires = (now + self.valid_for).replace(microsecond=0)
            rate = {value: self.rating(RatingLink(number, requester, transition.id, spec.id, value, expires))
                    for value in range(low, high + 1)}
        return {"ticket": self.ticket(number) if number else "", "rate": rate}


def rating_transition(form: m.FormSpec, process: m.ProcessSpec,
                      state: str) -> tuple[m.TransitionSpec, m.FieldSpec] | None:
    """The transition a requester fires from `state` whose form asks for a rating (confirm and close), and
    that rating field: the first such in the process's order."""
    for transition in process.transitions_from(state):
        if transition.timed or (transition.roles is not None and "requester" not in transition.roles):
            continue
        for field_id in transition.fields:
            spec = form.by_id.get(field_id)
            if spec is not None and spec.type == "rating":
                return transition, spec
    return None
