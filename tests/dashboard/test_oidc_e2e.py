"""Single sign-on end to end: Streamlit's own ``st.login`` against an OpenID Connect provider that
this test runs on localhost (discovery, authorize, token with an RS256-signed id_token, JWKS,
userinfo), in a real browser. The role comes from our users table by email: a known identity
gets its role's pages, an unknown one is told to ask an admin and sees nothing else.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from core.auth import SYSTEM_ACTOR, create_user
from core.db import get_engine
from tests.dashboard.conftest import make_sample_db
from tests.dashboard.test_e2e import CHROMIUM, CHROMIUM_ARGS, free_port, settle
from tests.dashboard.test_signin_e2e import nav_links, start_server, stop_server, wait_for_sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("browser"),  # one at a time: two app servers on 2 cores time pages out
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
CLIENT_ID, CLIENT_SECRET = "territory-health", "client-secret-for-tests"
SSO_APPROVER = "sso.approver@example.com"


class Provider:
    """A tiny OpenID Connect provider: every authorize request signs in ``self.email`` at once."""

    def __init__(self) -> None:
        from joserfc.jwk import RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "alg": "RS256", "use": "sig"})
        self.email = SSO_APPROVER
        self.codes: dict[str, dict[str, str]] = {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())

    def discovery(self) -> dict[str, object]:
        return {
            "issuer": self.base,
            "authorization_endpoint": f"{self.base}/authorize",
            "token_endpoint": f"{self.base}/token",
            "jwks_uri": f"{self.base}/jwks",
            "userinfo_endpoint": f"{self.base}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def claims(self, nonce: str | None) -> dict[str, object]:
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self.base,
            "sub": self.email,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 600,
            "email": self.email,
            "email_verified": True,
            "name": "Sam Single-Sign-On",
        }
        if nonce:
            claims["nonce"] = nonce
        return claims

    def id_token(self, nonce: str | None) -> str:
        from joserfc import jwt

        return jwt.encode({"alg": "RS256", "kid": "test-key"}, self.claims(nonce), self.key)

    def _handler(self):  # type: ignore[no-untyped-def]
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

            def _json(self, body: object, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(provider.discovery())
                elif url.path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {
                        "nonce": query.get("nonce", ""),
                        "redirect": query["redirect_uri"],
                    }
                    self.send_response(302)
                    back = urlencode({"code": code, "state": query.get("state", "")})
                    self.send_header("Location", f"{query['redirect_uri']}?{back}")
                    self.end_headers()
                elif url.path == "/userinfo":
                    self._json(provider.claims(None))
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                basic = self.headers.get("Authorization", "")
                client = (
                    base64.b64decode(basic.removeprefix("Basic ")).decode()
                    if basic.startswith("Basic ")
                    else f"{form.get('client_id')}:{form.get('client_secret')}"
                )
                grant = provider.codes.pop(form.get("code", ""), None)
                if client != f"{CLIENT_ID}:{CLIENT_SECRET}" or grant is None:
                    self._json({"error": "invalid_grant"}, 400)
                    return
                self._json(
                    {
                        "access_token": secrets.token_urlsafe(16),
                        "token_type": "Bearer",
                        "expires_in": 600,
                        "id_token": provider.id_token(grant["nonce"] or None),
                    }
                )

        return Handler

    def __enter__(self) -> Provider:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with Provider() as running:
        yield running


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory, provider) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("oidc")
    url = make_sample_db(folder / "southwest.db")
    create_user(get_engine(url), SSO_APPROVER, role="approver", password=None, actor=SYSTEM_ACTOR)
    port = free_port()
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{provider.base}/.well-known/openid-configuration"\n'
    )
    base, process, log = start_server(url, folder, "--secrets.files", str(secrets_file), port=port)
    try:
        yield base
    finally:
        stop_server(process, log)
        print((folder / "streamlit.log").read_text()[-3000:])  # noqa: T201 (shown when a test fails)


@pytest.fixture(scope="module")
def browser() -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sso_sign_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base)
    wait_for_sign_in(page)
    page.get_by_role("button", name="Sign in with single sign-on").click()


def test_a_known_identity_signs_in_through_the_provider_with_its_role(browser, sso_server, provider):
    provider.email = SSO_APPROVER
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    sso_sign_in(page, sso_server)
    page.wait_for_selector("h1:has-text('Overview')", timeout=90_000)
    settle(page)
    assert nav_links(page) == {
        "Overview",
        "Map",
        "Territory",
        "Drift",
        "Alerts",
        "Data",
        "Optimize",
        "Plan review",
    }
    assert page.get_by_text("Sam Single-Sign-On · approver").count() == 1
    cookie = next(c for c in context.cookies() if c["name"].startswith("_streamlit_user"))
    assert cookie["httpOnly"]  # Streamlit's own signed identity cookie
    page.reload()
    page.wait_for_selector("h1:has-text('Overview')", timeout=90_000)
    context.close()


def test_an_unknown_identity_is_told_to_ask_an_admin_and_sees_nothing_else(browser, sso_server, provider):
    provider.email = "stranger@example.com"
    context = browser.new_context()
    page = context.new_page()
    sso_sign_in(page, sso_server)
    page.get_by_text("stranger@example.com has no role here yet").wait_for(timeout=90_000)
    settle(page)
    assert nav_links(page) == set()
    assert page.locator("[data-testid='stDataFrame'], [data-testid='stMetric']").count() == 0
    context.close()
