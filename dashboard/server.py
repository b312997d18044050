"""The dashboard as an ASGI app: Streamlit (``streamlit_app.py``) plus the two sign-in routes.

``streamlit run dashboard/server.py`` (what ``territory run`` does) finds the ``st.App`` below.
``/signin/complete?ticket=...`` exchanges a one-time sign-in ticket for the session cookie: signed,
HTTP-only, SameSite=Lax, Secure behind HTTPS, lasting as long as the session, then opens the page
the sign-in was asked for (``next``, a page of this app only); ``/signout`` deletes it and goes back
to the app.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import RedirectResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from core.auth import redeem_ticket  # noqa: E402
from core.config import get_settings  # noqa: E402
from core.db import get_engine  # noqa: E402
from dashboard.auth import COMPLETE_PATH, COOKIE, SIGNOUT_PATH, safe_return_path  # noqa: E402


def complete(request: Request) -> Response:
    """Set the session cookie for a fresh one-time ticket, then open the page that was asked for."""
    cookie = redeem_ticket(get_engine(get_settings().database_url), request.query_params.get("ticket", ""))
    page = safe_return_path(request.query_params.get("next", "")) if cookie is not None else ""
    response = RedirectResponse(str(request.base_url) + page, status_code=303)
    if cookie is not None:
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(get_settings().session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
            path="/",
        )
    return response


def signout(request: Request) -> Response:
    response = RedirectResponse(str(request.base_url), status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


app = st.App(
    "streamlit_app.py",
    routes=[Route(f"/{COMPLETE_PATH}", complete), Route(f"/{SIGNOUT_PATH}", signout)],
)
