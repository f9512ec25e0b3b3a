"""OpenID Connect sign-in (SPEC 14): the provider's settings and the person its ID token describes.

The flow itself (discovery, the authorization code with PKCE, state and nonce, checking the ID token's
signature against the provider's keys, its issuer, audience, expiry and nonce) is Authlib's, driven by the web
layer (`itsm.web.sso`); this module holds what the engine decides: which settings make a provider, and which
claims say who the person is (`person_from_claims`), handed to `identities.provision` like the directory's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import N_, BadRequest
from .identities import OIDC, ExternalPerson, SettingsError


@dataclass(frozen=True)
class ProviderSettings:
    issuer: str  # https://sso.example.gov/realms/gov: discovery is ISSUER/.well-known/openid-configuration
    client_id: str
    client_secret: str | None = None  # None: a public client (PKCE alone)
    redirect_uri: str | None = None  # None: this desk's /login/oidc/callback as the request reached it
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    display_name: str = "OpenID Connect"  # the sign-in page's "Sign in with ..."
    name_claim: str = "preferred_username"
    email_claim: str = "email"
    full_name_claim: str = "name"
    org_claim: str | None = None
    timeout: float = 10.0  # seconds for each request to the provider

    def __post_init__(self) -> None:
        if not re.fullmatch(r"https?://\S+", self.issuer):
            raise SettingsError(f"ITSM_OIDC_ISSUER={self.issuer!r}: the provider's issuer URL, "
                                "for example https://sso.example.gov/realms/gov")
        if not _secure(self.issuer):
            raise SettingsError(f"ITSM_OIDC_ISSUER={self.issuer!r}: the provider must be reached over https "
                                "(plain http only on this machine: localhost, 127.0.0.1, ::1)")
        if not self.client_id:
            raise SettingsError("ITSM_OIDC_CLIENT_ID is missing: the client id this desk has at the provider")
        if "openid" not in self.scopes:
            raise SettingsError(f"ITSM_OIDC_SCOPES={' '.join(self.scopes)!r} must include openid")
        if self.redirect_uri is not None and not re.fullmatch(r"https?://\S+", self.redirect_uri):
            raise SettingsError(f"ITSM_OIDC_REDIRECT_URI={self.redirect_uri!r}: an absolute URL ending in "
                                "/login/oidc/callback")
        if not 0 < self.timeout <= 300:
            raise SettingsError(f"ITSM_OIDC_TIMEOUT={self.timeout}: a number of seconds between 0 and 300")

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> ProviderSettings | None:
        """The settings of `ITSM_OIDC_*` (None when ITSM_OIDC_ISSUER is unset: no provider)."""
        issuer = env.get("ITSM_OIDC_ISSUER", "").strip()
        if not issuer:
            return None

        def text(key: str, default: str | None = None) -> str | None:
            return env.get(f"ITSM_OIDC_{key}", "").strip() or default

        try:
            timeout = float(text("TIMEOUT", "10") or 10)
        except ValueError:
            raise SettingsError(f"ITSM_OIDC_TIMEOUT={text('TIMEOUT')!r}: a number of seconds") from None
        scopes = tuple((text("SCOPES") or "openid profile email").replace(",", " ").split())
        return cls(issuer=issuer, client_id=text("CLIENT_ID") or "", client_secret=env.get("ITSM_OIDC_CLIENT_SECRET")
                   or None, redirect_uri=text("REDIRECT_URI"), scopes=scopes,
                   display_name=text("PROVIDER_NAME", "OpenID Connect") or "OpenID Connect",
                   name_claim=text("NAME_CLAIM", "preferred_username") or "preferred_username",
                   email_claim=text("MAIL_CLAIM", "email") or "email",
                   full_name_claim=text("FULL_NAME_CLAIM", "name") or "name", org_claim=text("ORG_CLAIM"),
                   timeout=timeout)


def _secure(url: str) -> bool:
    """https, or http to this machine (a provider beside the desk, the tests): client secrets, codes and ID
    tokens travel on this connection."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return False


def person_from_claims(settings: ProviderSettings, claims: Mapping[str, Any]) -> ExternalPerson:
    """The person of a validated ID token's claims. A mail address the provider says is not verified is left
    out: mail from it would otherwise open tickets as this user."""
    subject = claims.get("sub")
    name = claims.get(settings.name_claim)
    if not isinstance(subject, str) or not subject:
        raise BadRequest(N_("the identity provider's answer names nobody (no 'sub' claim)"))
    if not isinstance(name, str) or not name.strip():
        raise BadRequest(N_("the identity provider gave no '%(claim)s' for this person: ask an administrator to "
                            "set ITSM_OIDC_NAME_CLAIM", claim=settings.name_claim))
    email = claims.get(settings.email_claim)
    if not isinstance(email, str) or claims.get("email_verified") is False:
        email = None
    full_name = claims.get(settings.full_name_claim)
    return ExternalPerson(name=name.strip(), method=OIDC, email=email,
                          full_name=full_name if isinstance(full_name, str) else None,
                          orgs=_organizations(claims.get(settings.org_claim) if settings.org_claim else None),
                          subject=subject)


def _organizations(value: Any) -> tuple[str, ...]:
    """A claim's organizations, nearest first: an id or a name, a list of them, or a group path
    (`/浙江省/杭州市`, as Keycloak writes groups) read from its end."""
    values = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in values:
        if not isinstance(item, str):
            continue
        found.extend(reversed([part for part in item.split("/") if part.strip()]) if "/" in item else [item])
    return tuple(found)
