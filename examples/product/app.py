"""A minimal product site that signs its users in through orgwarden and checks their API tokens.

- ``/`` shows who is signed in; ``/login`` starts OpenID Connect (authorization code + PKCE, with
  Authlib's Flask client, configured from orgwarden's discovery document); ``/callback`` finishes
  it; ``/logout`` signs out here and at orgwarden (RP-initiated logout).
- ``/api/me`` is a product API: it accepts ``Authorization: Bearer owt_…`` or HTTP Basic
  ``email:owt_…`` and asks orgwarden's introspection endpoint whether the token is good and whether
  its owner may use this site.

Configure with environment variables (the site's page in the orgwarden console shows the values):

    ORGWARDEN_URL=http://localhost:8000 CLIENT_ID=… CLIENT_SECRET=owcs_… \
        flask --app examples/product/app.py run --port 5000

and register ``http://localhost:5000/callback`` as the site's redirect URI (and
``http://localhost:5000/`` as its after-sign-out URI).
"""

from __future__ import annotations

import os
import secrets

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, jsonify, redirect, request, session, url_for


def create_app(*, orgwarden_url: str, client_id: str, client_secret: str) -> Flask:
    app = Flask(__name__)
    app.secret_key = os.environ.get("PRODUCT_SECRET_KEY") or secrets.token_hex(32)
    oauth = OAuth(app)
    oauth.register(
        "orgwarden",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{orgwarden_url}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )

    @app.get("/")
    def home():
        user = session.get("user")
        if not user:
            return '<h1>Example product</h1><p><a href="/login">Sign in with orgwarden</a></p>'
        return (
            f"<h1>Example product</h1><p id='who'>Signed in as {user['email']} ({user['name']})</p>"
            f"<p>Account id: <code>{user['sub']}</code></p><p><a href='/logout'>Sign out</a></p>"
        )

    @app.get("/login")
    def login():
        return oauth.orgwarden.authorize_redirect(url_for("callback", _external=True))

    @app.get("/callback")
    def callback():
        token = oauth.orgwarden.authorize_access_token()  # checks state, PKCE, ID token signature, nonce
        session["user"] = dict(token["userinfo"])
        session["id_token"] = token["id_token"]
        return redirect("/")

    @app.get("/logout")
    def logout():
        id_token = session.pop("id_token", "")
        session.clear()
        metadata = oauth.orgwarden.load_server_metadata()
        query = {"id_token_hint": id_token, "post_logout_redirect_uri": url_for("home", _external=True)}
        return redirect(requests.Request("GET", metadata["end_session_endpoint"], params=query).prepare().url)

    @app.get("/api/me")
    def api_me():
        header = request.headers.get("Authorization", "")
        presented = header[7:] if header.lower().startswith("bearer ") else header
        if not presented:
            return jsonify(error="unauthorized"), 401
        answer = requests.post(
            f"{orgwarden_url}/oauth2/introspect",
            data={"token": presented},
            auth=(client_id, client_secret),
            timeout=5,
        ).json()
        if not answer.get("active"):
            return jsonify(error="unauthorized"), 401
        if not answer.get("site_access"):
            return jsonify(error="forbidden", message="No access to this site; ask your admin."), 403
        return jsonify(account_id=answer["account_id"], email=answer["email"], role=answer["site_role"])

    return app


if os.environ.get("CLIENT_ID"):
    app = create_app(
        orgwarden_url=os.environ.get("ORGWARDEN_URL", "http://localhost:8000").rstrip("/"),
        client_id=os.environ["CLIENT_ID"],
        client_secret=os.environ["CLIENT_SECRET"],
    )
