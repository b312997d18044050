"""Users and audit (admin): who may sign in with which role, and the audit trail of every write."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from core.audit import list_events
from core.auth import ROLES, AuthError, create_user, disable_user, enable_user, list_users, set_role
from dashboard import auth, data

st.title("Users and audit")
engine = data.engine()
actor = auth.current_actor()
if actor is None or not actor.can("users.manage"):
    st.error("Only an admin can see this page.")
    st.stop()

users = list_users(engine)
st.subheader("Users")
st.dataframe(
    pd.DataFrame([asdict(u) for u in users]), hide_index=True, width="stretch"
)  # dataframes render cells as text

with st.form("add_user", clear_on_submit=True):
    st.caption("Add a user: with a password for a local account, without one for single sign-on only.")
    left, middle, right = st.columns(3)
    email = left.text_input("New user's email")
    role = middle.selectbox("Role", ROLES)
    password = right.text_input("Initial password", type="password")
    if st.form_submit_button("Add user"):
        try:
            create_user(engine, email, role=role, password=password or None, actor=actor, source="page")
            st.success(f"Added {email.strip().lower()} as {role}.")
        except (ValueError, AuthError) as error:
            st.error(str(error))

if users:
    with st.form("change_user"):
        left, middle, right = st.columns(3)
        chosen = left.selectbox("User", [u.email for u in users])
        new_role = middle.selectbox("New role", ROLES)
        change = right.selectbox("Change", ["set role", "disable", "enable"])
        if st.form_submit_button("Change user"):
            try:
                if change == "set role":
                    set_role(engine, chosen, new_role, actor=actor, source="page")
                elif change == "disable":
                    disable_user(engine, chosen, actor=actor, source="page")
                else:
                    enable_user(engine, chosen, actor=actor, source="page")
                st.success(f"{chosen}: {change} done.")
            except (ValueError, AuthError) as error:
                st.error(str(error))

st.subheader("Audit trail")
events = list_events(engine, limit=500)
if events:
    st.dataframe(pd.DataFrame([e.as_dict() for e in events]), hide_index=True, width="stretch")
else:
    st.caption("No audit events yet.")
