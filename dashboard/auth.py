"""Who may see the dashboard. Safe by default: the graph may hold identifying data.

- No login configured: the CLI binds the server to 127.0.0.1, so only this machine can reach it.
- A password in DICOM_GRAPH_DASHBOARD_PASSWORD (a small team): every session signs in with it.
- An OIDC provider in `.streamlit/secrets.toml` ([auth] with redirect_uri, cookie_secret, client_id,
  client_secret, server_metadata_url): Streamlit's own st.login / st.user.
Once signed in, the sidebar says who is.
"""

from __future__ import annotations

import hmac
import os
import tomllib
from pathlib import Path

PASSWORD_ENV = "DICOM_GRAPH_DASHBOARD_PASSWORD"
USER_ENV = "DICOM_GRAPH_DASHBOARD_USER"


def secrets_files(cwd: Path | None = None) -> list[Path]:
    """Where Streamlit looks for secrets: the working directory's .streamlit/, then the user's."""
    cwd = cwd or Path.cwd()
    return [cwd / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def oidc_configured(cwd: Path | None = None) -> bool:
    for path in secrets_files(cwd):
        try:
            if "auth" in tomllib.loads(path.read_text()):
                return True
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return False


def password_configured() -> bool:
    return bool(os.environ.get(PASSWORD_ENV))


def login_configured(cwd: Path | None = None) -> bool:
    """True when some login protects the dashboard (then it may listen beyond 127.0.0.1)."""
    return password_configured() or oidc_configured(cwd)


def gate() -> None:
    """Stop the page unless the session is signed in (when a login is configured); show who is."""
    import streamlit as st

    if password_configured():
        _password_gate(st)
    elif _oidc_in_secrets(st):
        _oidc_gate(st)
    else:
        st.sidebar.caption("Local only (127.0.0.1): no login configured")


def _password_gate(st) -> None:
    expected = os.environ.get(PASSWORD_ENV, "")
    if not st.session_state.get("_signed_in"):
        st.title("dicom-graph")
        with st.form("login"):
            user = st.text_input("Name", value=os.environ.get(USER_ENV, ""))
            password = st.text_input("Password", type="password")
            submitted = st.form_submit_button("Sign in")
        if submitted:
            if hmac.compare_digest(password.encode(), expected.encode()):
                st.session_state["_signed_in"] = user.strip() or "team member"
                st.rerun()
            st.error("Wrong password.")
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as **{st.session_state['_signed_in']}**")
        if st.button("Sign out", key="_sign_out"):
            st.session_state.pop("_signed_in", None)
            st.rerun()


def _oidc_in_secrets(st) -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _oidc_gate(st) -> None:
    if not st.user.is_logged_in:
        st.title("dicom-graph")
        st.write("This dashboard shows a graph that may hold identifying data: sign in to continue.")
        if st.button("Sign in", key="_oidc_login"):
            st.login()
        st.stop()
    who = st.user.get("email") or st.user.get("name") or "signed in"
    with st.sidebar:
        st.caption(f"Signed in as **{who}**")
        if st.button("Sign out", key="_oidc_logout"):
            st.logout()
