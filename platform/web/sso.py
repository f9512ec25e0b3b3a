"""Sign-in with an OpenID Connect provider (SPEC 14), through Authlib's Flask client.

`/login/oidc` sends the person to the provider with an authorization code request (PKCE S256, a state and a
nonce kept in the signed session cookie); `/login/oidc/callback` exchanges the code, and Authlib checks the
ID token: its signature against the provider's published keys (JWKS), its issuer, its expiry and its nonce.
We add the audience: Authlib only checks `azp`, and an ID token the provider made for another client must
not sign anyone in here. The claims then go to the engine (`oidc.person_from_claims`, `identities.provision`)
like a directory's answer. Creating the app contacts nobody: the provider's discovery document and keys are
fetched on the first sign-in and kept.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth, OAuthError
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from flask import Blueprint, Flask, abort, current_app, redirect, request, session, url_for
from flask_babel import gettext
from joserfc.errors import JoseError

from itsm.engine import Conflict, Forbidden
from itsm.engine.errors import BadRequest, Unavailable
from itsm.engine.people.identities import provision
from itsm.engine.people.oidc import ProviderSettings, person_from_claims

from .auth import login_page, refusal
from .extension import current_engine, current_provider, install_provider
from .security import log_in, safe_next

sso = Blueprint("sso", __name__)
log = logging.getLogger("itsm.sign_in")

NEXT = "sign_in_next"  # the session's note of the page to return to after the provider


def init_app(app: Flask) -> None:
    app.register_blueprint(sso)
    settings: ProviderSettings | None = app.config.get("OIDC")
    if settings is None:
        return
    oauth = OAuth(app)
    install_provider(app, oauth.register(
        "provider", client_id=settings.client_id, client_secret=settings.client_secret,
        server_metadata_url=settings.discovery_url,
        client_kwargs={"scope": " ".join(settings.scopes), "code_challenge_method": "S256",
                       "default_timeout": settings.timeout,
                       # a public client (no secret) names itself in the token request; PKCE proves it
                       **({} if settings.client_secret else {"token_endpoint_auth_method": "none"})}))


def _provider() -> tuple[ProviderSettings, FlaskOAuth2App]:
    settings: ProviderSettings | None = current_app.config.get("OIDC")
    if settings is None:
        abort(404)
    return settings, current_provider()


@sso.get("/login/oidc")
def start() -> Any:
    """Off to the provider; back at `callback`."""
    settings, client = _provider()
    session[NEXT] = safe_next(request.args.get("next"), url_for("ui.home"))
    redirect_uri = settings.redirect_uri or url_for("sso.callback", _external=True)
    try:
        return client.authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError, AuthlibBaseError, RuntimeError) as exc:
        log.error("OpenID Connect provider %s: discovery failed: %s", settings.issuer, exc)
        return refusal(Unavailable(str(exc)), session.get(NEXT, "/"), provider=settings.display_name)


@sso.get("/login/oidc/callback")
def callback() -> Any:
    """The provider's answer: a code to exchange for a checked ID token, or an error."""
    settings, client = _provider()
    target = safe_next(session.get(NEXT), url_for("ui.home"))
    try:
        token = client.authorize_access_token(claims_options={
            "iss": {"essential": True, "value": settings.issuer},
            "aud": {"essential": True, "values": [settings.client_id]},
        })
    except requests.RequestException as exc:
        log.error("OpenID Connect provider %s unreachable: %s", settings.issuer, exc)
        return refusal(Unavailable(str(exc)), target, provider=settings.display_name)
    except OAuthError as exc:
        log.warning("OpenID Connect sign-in refused: %s %s", exc.error, exc.description)
        if exc.error == "mismatching_state":
            message = gettext("This sign-in was not started here or has expired: please start again.")
        else:
            message = gettext("%(provider)s did not sign you in (%(error)s).", provider=settings.display_name,
                              error=exc.error or "error")
        return login_page(target, error=message, status=401)
    except (JoseError, AuthlibBaseError, ValueError, KeyError) as exc:
        log.warning("OpenID Connect ID token refused: %s", exc)
        return login_page(target, error=gettext("The answer of %(provider)s could not be verified: sign-in refused.",
                                                provider=settings.display_name), status=401)
    claims = token.get("userinfo")
    if not claims:
        log.warning("OpenID Connect provider %s answered without an ID token", settings.issuer)
        return login_page(target, error=gettext("The answer of %(provider)s could not be verified: sign-in refused.",
                                                provider=settings.display_name), status=401)
    try:
        user = provision(current_engine().db, person_from_claims(settings, claims))
    except (Forbidden, Conflict, BadRequest) as exc:
        return refusal(exc, target, str(claims.get(settings.name_claim) or ""), settings.display_name)
    log_in(user)
    return redirect(target)
