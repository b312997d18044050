"""The dashboard's sign-in: a gate before any page, the signed-in user, and sign-out.

Local accounts sign in with the form (Email, Password, Sign in); single sign-on goes through
Streamlit's own ``st.login`` when ``.streamlit/secrets.toml`` has an ``[auth]`` section, and the
role comes from our users table by email.

A local sign-in becomes a signed, HTTP-only cookie the way ``st.login``'s does: the script checks
the password, opens a server-side session and sends the browser (Streamlit's own auth redirect) to
``/signin/complete`` with a one-time ticket and the page that was asked for; that route
(dashboard/server.py) sets the cookie and opens that page. The run that sends the redirect ends there
(a rerun would drop the redirect before it reached the browser), so the app draws only once the
cookie is set; the tab also holds the session, so "Continue" opens it if the browser does not
follow. Every script run then reads the cookie (``st.context.cookies``) and checks its session
in the database, so a reload, a direct URL or a new tab stays signed in until the session expires,
and signing out ends the session everywhere at the next interaction.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit import config as st_config
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from core.auth import (
    Actor,
    AuthError,
    SignInError,
    count_users,
    end_session,
    ensure_sso_user,
    redeem_ticket,
    require,
    session_actor,
    start_session,
    verify_password,
)
from core.db import upgrade_schema
from dashboard import data

COOKIE = "territory_session"
STATE = "territory_session"  # the signed session of this browser tab, once signed in here
ACTOR = "territory_actor"  # the Actor of this run (set by the gate)
COMPLETE_PATH = "signin/complete"
SIGNOUT_PATH = "signout"


@st.cache_resource(show_spinner=False)
def _schema_ready(url: str) -> bool:
    upgrade_schema(data.engine_for(url))
    return True


def sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):  # type: ignore[attr-defined]
        return False


def current_actor() -> Actor | None:
    """The signed-in user of this run (set by ``gate``); None on a page run without the app shell."""
    actor = st.session_state.get(ACTOR)
    return actor if isinstance(actor, Actor) else None


def can(action: str) -> bool:
    actor = current_actor()
    return actor is not None and actor.can(action)


def acting(action: str) -> Actor:
    """The signed-in user, checked for ``action`` (a page's write calls this before core does)."""
    actor = current_actor()
    if actor is None:
        raise AuthError("sign in first")
    require(actor, action)
    return actor


def gate() -> Actor:
    """The signed-in user; without one, the sign-in page is shown and the run stops here."""
    url = data.database_url()
    if data._sqlite_file_missing(url):  # nothing to sign in to, and a visitor creates nothing
        st.session_state.pop(ACTOR, None)
        sign_in_page(None)
        st.stop()
    engine = data.engine()
    _schema_ready(url)
    actor = _from_session(engine)
    if actor is None:
        st.session_state.pop(ACTOR, None)
        sign_in_page(engine)
        st.stop()
    st.session_state[ACTOR] = actor
    return actor


def _from_session(engine) -> Actor | None:  # type: ignore[no-untyped-def]
    for value in (st.session_state.get(STATE), st.context.cookies.get(COOKIE)):
        actor = session_actor(engine, value) if value else None
        if actor is not None:
            return actor
    if sso_configured() and st.user.is_logged_in:
        email = str(st.user.get("email") or "")
        actor = ensure_sso_user(engine, email, str(st.user.get("name") or ""))
        if actor is None:
            st.error(f"{email} has no role here yet: ask an admin to add you (`territory users add`).")
            if st.button("Sign out"):
                st.logout()
            st.stop()
        return actor
    st.session_state.pop(STATE, None)
    return None


def sign_in_page(engine) -> None:  # type: ignore[no-untyped-def]
    st.title("Territory Health")
    st.subheader("Sign in")
    if engine is None or count_users(engine) == 0:
        st.info(
            "No one can sign in yet. `territory run` creates the first admin (TERRITORY_ADMIN_EMAIL and "
            "TERRITORY_ADMIN_PASSWORD, or a generated password it prints once); or run "
            "`territory users add EMAIL --role admin --password-stdin --as system`."
        )
    box = st.empty()
    with box.container():
        with st.form("sign_in"):
            email = st.text_input("Email")
            password = st.text_input("Password", type="password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if sso_configured():
            st.button("Sign in with single sign-on", on_click=st.login)
    if not submitted:
        return
    try:
        if engine is None:
            raise SignInError("wrong email or password")
        actor = verify_password(engine, email, password)
    except SignInError as error:
        st.error(str(error))
        return
    st.session_state[STATE] = redeem_ticket(engine, start_session(engine, actor.email))
    st.session_state[ACTOR] = actor
    ticket = start_session(engine, actor.email)
    _redirect(f"{COMPLETE_PATH}?{urlencode({'ticket': ticket, 'next': _requested_page()})}")
    box.empty()
    st.info("Signed in. Opening the dashboard…")
    st.button("Continue", type="primary")  # this tab holds the session if the browser does not follow


def _requested_page() -> str:
    """The page this sign-in was asked for (path and query, relative to the app), to open after it."""
    path = urlsplit(st.context.url or "").path.strip("/")
    base = str(st_config.get_option("server.baseUrlPath") or "").strip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :].strip("/")
    query = urlencode(st.query_params.to_dict())
    return safe_return_path(f"{path}?{query}" if query else path)


def safe_return_path(value: str) -> str:
    """``value`` when it is a page of this app (relative: no scheme, host or leading slash, and not a
    sign-in route), else "" (the overview): the cookie route never sends anyone elsewhere."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith(("/", "\\")) or "\\" in value:
        return ""
    if parts.path.strip("/") in (COMPLETE_PATH, SIGNOUT_PATH) or any(ord(c) < 32 for c in value):
        return ""
    return value


def sign_out() -> None:
    """End this user's sessions everywhere, forget them here and clear the browser's cookie."""
    end_session(data.engine(), st.session_state.get(STATE) or st.context.cookies.get(COOKIE))
    for key in (STATE, ACTOR):
        st.session_state.pop(key, None)
    if sso_configured() and st.user.is_logged_in:
        st.logout()
        return
    _redirect(SIGNOUT_PATH)


def _redirect(path: str) -> None:
    """Send the browser to one of our routes (Streamlit's auth redirect, as ``st.login`` uses)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    base = str(st_config.get_option("server.baseUrlPath") or "").strip("/")
    message = ForwardMsg()
    message.auth_redirect.url = "/" + "/".join(p for p in (base, path) if p)
    ctx.enqueue(message)


def user_box(actor: Actor) -> None:
    """Who is signed in, with which role, and the sign-out button (in the sidebar)."""
    with st.sidebar:
        st.text(f"{actor.name or actor.email} · {actor.role}")
        st.button("Sign out", on_click=sign_out, key="sign_out")
