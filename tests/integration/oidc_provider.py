"""A small OpenID Connect provider for the sign-in tests, served over real HTTP on 127.0.0.1.

It does what Keycloak-like providers do for an authorization code flow, and checks what they check: the
discovery document, `/authorize` (the client, its registered redirect URI, `openid` in the scope, a state, a
nonce and a PKCE S256 challenge), `/token` (the client secret, the code once, the redirect URI again, the
PKCE verifier) answering with an ID token signed RS256 by a key published at `/jwks`.

The person who "signs in at the provider" is `provider.person` (claims); `provider.fault` makes the next ID
token wrong in one way (a bad signature, another audience, another nonce, expired, another issuer) so the
tests can see each one refused. `provider.requests` records the authorization requests it received.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID, CLIENT_SECRET = "itsm-desk", "desk-client-secret"
FAULTS = ("bad_signature", "wrong_audience", "wrong_nonce", "expired", "wrong_issuer", "no_id_token")


@dataclass
class Grant:
    claims: dict[str, Any]
    nonce: str
    challenge: str
    redirect_uri: str


@dataclass
class Provider:
    redirect_uris: tuple[str, ...]
    person: dict[str, Any] = field(default_factory=dict)
    fault: str | None = None
    public_client: bool = False  # the client has no secret: it names itself, PKCE proves it
    requests: list[dict[str, str]] = field(default_factory=list)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "signing-1"}))
    url: str = ""
    _grants: dict[str, Grant] = field(default_factory=dict)
    _server: Any = None

    @property
    def issuer(self) -> str:
        return self.url

    def start(self) -> Provider:
        self._server = make_server("127.0.0.1", 0, self._app(), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": grant.nonce,
                  "auth_time": now, **grant.claims}
        key = self.key
        if self.fault == "bad_signature":  # same key id, another key: only the signature check can tell
            key = RSAKey.generate_key(2048, parameters={"kid": self.key.kid})
        elif self.fault == "wrong_audience":  # made for another client (azp says ours: the audience must tell)
            claims.update(aud="another-client", azp=CLIENT_ID)
        elif self.fault == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif self.fault == "expired":
            claims.update(iat=now - 3600, exp=now - 1800)
        elif self.fault == "wrong_issuer":
            claims["iss"] = "https://someone-else.example"
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, key)

    def _app(self) -> Flask:
        app = Flask("oidc_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(issuer=self.issuer, authorization_endpoint=f"{self.url}/authorize",
                           token_endpoint=f"{self.url}/token", jwks_uri=f"{self.url}/jwks",
                           response_types_supported=["code"], subject_types_supported=["public"],
                           id_token_signing_alg_values_supported=["RS256"], code_challenge_methods_supported=["S256"],
                           token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"])

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize() -> Any:
            args = request.args.to_dict()
            self.requests.append(args)
            problems = [name for name, ok in [
                ("client_id", args.get("client_id") == CLIENT_ID),
                ("redirect_uri", args.get("redirect_uri") in self.redirect_uris),
                ("response_type", args.get("response_type") == "code"),
                ("scope", "openid" in args.get("scope", "").split()),
                ("state", bool(args.get("state"))), ("nonce", bool(args.get("nonce"))),
                ("code_challenge", args.get("code_challenge_method") == "S256" and bool(args.get("code_challenge"))),
            ] if not ok]
            if problems:
                return jsonify(error="invalid_request", problems=problems), 400
            code = secrets.token_urlsafe(24)
            self._grants[code] = Grant(dict(self.person), args["nonce"], args["code_challenge"], args["redirect_uri"])
            return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}")

        @app.post("/token")
        def token() -> Any:
            form = request.form
            client = request.authorization
            client_id, secret = ((client.username, client.password) if client and client.username
                                 else (form.get("client_id"), form.get("client_secret")))
            if (client_id, secret) != (CLIENT_ID, None if self.public_client else CLIENT_SECRET):
                return jsonify(error="invalid_client"), 401
            grant = self._grants.pop(form.get("code", ""), None)  # a code is good once
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (grant is None or form.get("grant_type") != "authorization_code"
                    or form.get("redirect_uri") != grant.redirect_uri or challenge != grant.challenge):
                return jsonify(error="invalid_grant"), 400
            answer: dict[str, Any] = {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                                      "expires_in": 300}
            if self.fault != "no_id_token":
                answer["id_token"] = self.id_token(grant)
            return jsonify(answer)

        return app
