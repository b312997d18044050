"""Territory Health dashboard: the page list, shared notices, then the chosen page.

Run with ``streamlit run dashboard/streamlit_app.py`` (or ``territory run``). The database is
``TERRITORY_DATABASE_URL``; pages read it through ``dashboard.data``'s cached loaders. Nothing is
shown before sign-in (dashboard/auth.py); the pages listed depend on the signed-in user's role.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

from dashboard import auth, components, data  # noqa: E402

st.set_page_config(page_title="Territory Health", page_icon="🧭", layout="wide")
actor = auth.gate()  # a visitor without a session sees the sign-in and nothing else


def home() -> None:
    """The root URL: Streamlit serves its default page only at `/`, so the default page is this hidden
    one, which sends the browser on to `/overview` (keeping any query parameters)."""
    st.switch_page("app_pages/overview.py", query_params=st.query_params.to_dict())


pages = {
    "Monitor": [
        st.Page(home, title="Home", url_path="home", default=True, visibility="hidden"),
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview"),
        st.Page("app_pages/map.py", title="Map", icon=":material/map:", url_path="map"),
        st.Page(
            "app_pages/territory.py",
            title="Territory",
            icon=":material/person_pin_circle:",
            url_path="territory",
        ),
        st.Page("app_pages/drift.py", title="Drift", icon=":material/trending_down:", url_path="drift"),
        st.Page("app_pages/alerts.py", title="Alerts", icon=":material/notifications:", url_path="alerts"),
    ],
    "Act": [
        *(
            [st.Page("app_pages/optimize.py", title="Optimize", icon=":material/tune:", url_path="optimize")]
            if actor.can("plan.create")
            else []
        ),
        *(
            [
                st.Page(
                    "app_pages/review.py",
                    title="Plan review",
                    icon=":material/fact_check:",
                    url_path="review",
                )
            ]
            if actor.can("plan.review")  # viewers too: /review?plan=<id>
            else []
        ),
        st.Page("app_pages/data_page.py", title="Data", icon=":material/database:", url_path="data"),
        *(
            [
                st.Page(
                    "app_pages/admin.py", title="Users and audit", icon=":material/group:", url_path="admin"
                )
            ]
            if actor.can("users.manage")
            else []
        ),
    ],
}
page = st.navigation({section: entries for section, entries in pages.items() if entries})
auth.user_box(actor)
components.job_notices(data.data_status())
page.run()
