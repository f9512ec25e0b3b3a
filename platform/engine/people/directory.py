"""Sign-in against an LDAP directory (SPEC 14) with `ldap3`: the directory checks the password, never us.

Two ways to find a person's entry, as directories are run:
- a bind DN template (`uid={name},ou=people,dc=example,dc=gov`): the person binds as that DN and then reads
  their own entry;
- a search base with a filter (`(uid={name})`): a service account (or an anonymous bind) finds the one entry,
  then the person binds as its DN.

The name is escaped for where it goes (a DN value, a filter value), an empty password is refused before any
bind (LDAP takes a DN with no password for an anonymous bind, which "succeeds"), every network step has a
timeout, and a directory that cannot be reached is `Unavailable`, never a wrong password. The settings come
from the environment (`ITSM_LDAP_*`, docs/sign-in.md); what is done with the person found is `identities`.
"""

from __future__ import annotations

import logging
import math
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import N_, Unauthorized, Unavailable
from .identities import LDAP, ExternalPerson, SettingsError

if TYPE_CHECKING:  # ldap3 itself is imported at the first sign-in through it (a tenth of a second per process)
    from ldap3 import Connection, Server

log = logging.getLogger("itsm.sign_in")

DN_PART = "dn:"  # an organization attribute `dn:ou` reads the ou values of the entry's own DN, nearest first


@dataclass(frozen=True)
class DirectorySettings:
    url: str  # ldap://host[:port] or ldaps://host[:port]
    bind_dn: str | None = None  # a template with {name}
    search_base: str | None = None
    search_filter: str = "(uid={name})"
    service_dn: str | None = None  # None: the search binds anonymously
    service_password: str | None = None
    start_tls: bool = False
    ca_file: str | None = None  # PEM certificates to trust; None: the system's
    verify_tls: bool = True
    timeout: float = 5.0  # seconds, for connecting and for each answer
    name_attribute: str = "uid"
    email_attribute: str = "mail"
    full_name_attributes: tuple[str, ...] = ("displayName", "cn")
    org_attribute: str | None = None  # an attribute (`departmentNumber`, `ou`) or `dn:ou`

    def __post_init__(self) -> None:
        if not re.fullmatch(r"ldaps?://[^/\s]+/?", self.url):
            raise SettingsError(f"ITSM_LDAP_URL={self.url!r}: write it as ldap://HOST[:PORT] or ldaps://HOST[:PORT]")
        if (self.bind_dn is None) == (self.search_base is None):
            raise SettingsError("set one of ITSM_LDAP_BIND_DN (a DN with {name}) and ITSM_LDAP_SEARCH_BASE")
        if self.bind_dn is not None and "{name}" not in self.bind_dn:
            raise SettingsError(f"ITSM_LDAP_BIND_DN={self.bind_dn!r} has no {{name}} where the user name goes")
        if "{name}" not in self.search_filter or not self.search_filter.startswith("("):
            raise SettingsError(f"ITSM_LDAP_SEARCH_FILTER={self.search_filter!r}: write a filter with {{name}}, "
                                "for example (uid={name})")
        if self.start_tls and self.url.startswith("ldaps:"):
            raise SettingsError("ITSM_LDAP_STARTTLS is for ldap:// URLs; ldaps:// is TLS from the start")
        if not 0 < self.timeout <= 300:
            raise SettingsError(f"ITSM_LDAP_TIMEOUT={self.timeout}: a number of seconds between 0 and 300")

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> DirectorySettings | None:
        """The settings of `ITSM_LDAP_*` (None when ITSM_LDAP_URL is unset: no directory)."""
        url = env.get("ITSM_LDAP_URL", "").strip()
        if not url:
            return None

        def text(key: str, default: str | None = None) -> str | None:
            value = env.get(f"ITSM_LDAP_{key}", "").strip()
            return value or default

        def names(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            value = text(key)
            return tuple(part.strip() for part in value.split(",") if part.strip()) if value else default

        try:
            timeout = float(text("TIMEOUT", "5") or 5)
        except ValueError:
            raise SettingsError(f"ITSM_LDAP_TIMEOUT={text('TIMEOUT')!r}: a number of seconds") from None
        return cls(url=url, bind_dn=text("BIND_DN"), search_base=text("SEARCH_BASE"),
                   search_filter=text("SEARCH_FILTER", "(uid={name})") or "(uid={name})",
                   service_dn=text("SERVICE_DN"), service_password=env.get("ITSM_LDAP_SERVICE_PASSWORD") or None,
                   start_tls=_flag(env, "ITSM_LDAP_STARTTLS", False), ca_file=text("CA_FILE"),
                   verify_tls=_flag(env, "ITSM_LDAP_TLS_VERIFY", True), timeout=timeout,
                   name_attribute=text("NAME_ATTRIBUTE", "uid") or "uid",
                   email_attribute=text("MAIL_ATTRIBUTE", "mail") or "mail",
                   full_name_attributes=names("FULL_NAME_ATTRIBUTES", ("displayName", "cn")),
                   org_attribute=text("ORG_ATTRIBUTE"))

    def attributes(self) -> list[str]:
        """The attributes read from a person's entry."""
        wanted = [self.name_attribute, self.email_attribute, *self.full_name_attributes]
        if self.org_attribute and not self.org_attribute.startswith(DN_PART):
            wanted.append(self.org_attribute)
        return list(dict.fromkeys(wanted))


def _flag(env: Mapping[str, str], key: str, default: bool) -> bool:
    value = env.get(key, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{key}={value!r}: write 1 or 0")


def check_password(settings: DirectorySettings, name: str, password: str) -> ExternalPerson:
    """The person `name` is in the directory, if `password` is theirs. Unauthorized for a wrong name or
    password, Unavailable when the directory cannot be reached or does not answer in time."""
    from ldap3.core.exceptions import (
        LDAPCommunicationError,
        LDAPException,
        LDAPResponseTimeoutError,
        LDAPStartTLSError,
    )

    if not name or not password:
        raise Unauthorized(N_("wrong user name or password"))
    try:
        dn, attributes = _find_and_bind(settings, name, password)
    except (LDAPCommunicationError, LDAPResponseTimeoutError, LDAPStartTLSError, ssl.SSLError, OSError) as exc:
        log.error("LDAP directory %s unreachable: %s", settings.url, exc)
        raise Unavailable(N_("the directory (LDAP) cannot be reached: try again later")) from exc
    except LDAPException as exc:
        log.error("LDAP directory %s: %s", settings.url, exc)
        raise Unavailable(N_("the directory (LDAP) cannot be reached: try again later")) from exc
    return _person(settings, name, dn, attributes)


def _server(settings: DirectorySettings) -> Server:
    from ldap3 import NONE, Server, Tls

    tls = Tls(validate=ssl.CERT_REQUIRED if settings.verify_tls else ssl.CERT_NONE, ca_certs_file=settings.ca_file)
    return Server(settings.url, connect_timeout=settings.timeout, tls=tls, get_info=NONE)


def _connection(settings: DirectorySettings, server: Server, dn: str | None, password: str | None) -> Connection:
    """An open connection (TLS started when configured), not yet bound."""
    from ldap3 import Connection
    from ldap3.core.exceptions import LDAPStartTLSError

    # whole seconds: ldap3 packs the receive timeout as an integer (SO_RCVTIMEO)
    connection = Connection(server, user=dn, password=password, receive_timeout=math.ceil(settings.timeout),
                            raise_exceptions=False, read_only=True, auto_referrals=False)
    connection.open()
    if settings.start_tls and not connection.start_tls():
        connection.unbind()
        raise LDAPStartTLSError(f"StartTLS refused: {connection.result}")
    return connection


def _find_and_bind(settings: DirectorySettings, name: str, password: str) -> tuple[str, dict[str, list[str]]]:
    from ldap3 import BASE, SUBTREE
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn

    server = _server(settings)
    if settings.bind_dn is not None:
        dn = settings.bind_dn.replace("{name}", escape_rdn(name))
        connection = _connection(settings, server, dn, password)
        try:
            _bind(connection, name)
            connection.search(dn, "(objectClass=*)", BASE, attributes=settings.attributes())
            return dn, _attributes(connection.response)
        finally:
            connection.unbind()
    service = _connection(settings, server, settings.service_dn, settings.service_password)
    try:
        if not service.bind():
            log.error("LDAP directory %s refused the service account %r: %s", settings.url, settings.service_dn,
                      service.result.get("description"))
            raise Unavailable(N_("the directory (LDAP) cannot be reached: try again later"))
        search_filter = settings.search_filter.replace("{name}", escape_filter_chars(name))
        service.search(settings.search_base, search_filter, SUBTREE, attributes=settings.attributes(), size_limit=2)
        entries = [item for item in service.response or () if item.get("type") == "searchResEntry"]
    finally:
        service.unbind()
    if len(entries) != 1:
        if entries:
            log.warning("LDAP sign-in of %r refused: %s entries match %s", name, len(entries), search_filter)
        raise Unauthorized(N_("wrong user name or password"))
    dn = entries[0]["dn"]
    person = _connection(settings, server, dn, password)
    try:
        _bind(person, name)
    finally:
        person.unbind()
    return dn, _attributes(entries)


def _bind(connection: Connection, name: str) -> None:
    if not connection.bind():
        if connection.result.get("result") != 49:  # not invalidCredentials: worth an administrator's look
            log.warning("LDAP bind of %r refused: %s", name, connection.result.get("description"))
        raise Unauthorized(N_("wrong user name or password"))


def _attributes(response: Any) -> dict[str, list[str]]:
    """The first entry's attributes as text, by lower-case name (raw bytes decoded as UTF-8)."""
    for item in response or ():
        if item.get("type") == "searchResEntry":
            raw = item.get("raw_attributes") or {}
            return {key.lower(): [_text(value) for value in values] for key, values in raw.items()}
    return {}


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _person(settings: DirectorySettings, typed: str, dn: str, attributes: dict[str, list[str]]) -> ExternalPerson:
    """The directory's values: its spelling of the name (uid matches without regard to case, so `WangFang`
    and `wangfang` are one person and one user), the first mail address and full name, the organizations."""
    names = attributes.get(settings.name_attribute.lower(), [])
    name = next((value for value in names if value.casefold() == typed.casefold()), typed)
    full_name = next((values[0] for attribute in settings.full_name_attributes
                      if (values := attributes.get(attribute.lower()))), None)
    emails = attributes.get(settings.email_attribute.lower(), [])
    return ExternalPerson(name=name, method=LDAP, email=emails[0] if emails else None, full_name=full_name,
                          orgs=_organizations(settings, dn, attributes))


def _organizations(settings: DirectorySettings, dn: str, attributes: dict[str, list[str]]) -> tuple[str, ...]:
    attribute = settings.org_attribute
    if not attribute:
        return ()
    if attribute.startswith(DN_PART):
        from ldap3.utils.dn import parse_dn

        wanted = attribute[len(DN_PART):].strip().lower()
        return tuple(unescape_dn_value(value) for key, value, _ in parse_dn(dn) if key.strip().lower() == wanted)
    return tuple(attributes.get(attribute.lower(), []))


_ESCAPE = re.compile(rb"\\([0-9A-Fa-f]{2}|.)", re.DOTALL)


def unescape_dn_value(value: str) -> str:
    """A DN value as people wrote it: `\\,` is `,`, `\\E6\\9D\\AD` is `杭` (RFC 4514)."""
    if "\\" not in value:
        return value.strip()
    raw = _ESCAPE.sub(lambda m: bytes.fromhex(m.group(1).decode()) if len(m.group(1)) == 2 else m.group(1),
                      value.encode("utf-8"))
    return raw.decode("utf-8", "replace").strip()
