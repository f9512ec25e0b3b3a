"""The SMTP listener of `itsm mail-intake` (aiosmtpd): each message is recorded by `receive_mail`.

Meant to sit behind the organisation's mail server, which relays the service desk's address to it; it binds
to 127.0.0.1 unless told otherwise and does no authentication of its own. Answers: 250 when the mail was
recorded (or was a duplicate), 550 when it never will be (unknown sender, a mail that cannot be mapped),
451 on an unexpected failure, so the relaying server tries again later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller

from ..errors import EngineError
from .mail import receive_mail

_log = logging.getLogger("itsm.mail")


def _smtp_text(text: str) -> str:
    """One line of ASCII: what an SMTP reply may carry."""
    return " ".join(text.encode("ascii", "replace").decode().split())[:400]


class MailHandler:
    def __init__(self, engine: Any, intake_id: str | None = None) -> None:
        self.engine = engine
        self.intake_id = intake_id

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):  # pragma: no cover - only with decode_data=True
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:  # the database calls block: keep them off the event loop
            result = await loop.run_in_executor(None, receive_mail, self.engine, raw, self.intake_id)
        except EngineError as exc:
            _log.warning("mail refused: %s", exc.message)
            return f"550 5.6.0 {_smtp_text(exc.message)}"
        except Exception:
            _log.exception("mail could not be recorded")
            return "451 4.3.0 the mail could not be recorded; try again later"
        _log.info("mail %s: %s %s", envelope.mail_from, result["action"], result.get("number") or "")
        if result["action"] == "rejected":
            return f"550 5.7.1 {_smtp_text(result['message'])}"
        return _smtp_text(f"250 OK {result['action']} {result.get('number') or ''}")


def start_listener(engine: Any, host: str = "127.0.0.1", port: int = 8025,
                   intake_id: str | None = None) -> Controller:
    """A started listener (its own thread); call `.stop()` to end it."""
    controller = Controller(MailHandler(engine, intake_id), hostname=host, port=port)
    controller.start()
    return controller
