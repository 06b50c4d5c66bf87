"""Who may see the dashboard. Safe by default: the graph may hold identifying data.

- No login configured: the CLI binds the server to 127.0.0.1, so only this machine can reach it.
- A password in DICOM_GRAPH_DASHBOARD_PASSWORD (a small team): every session signs in with it. Guessing is
  slowed per client (LoginLimiter): after 5 wrong passwords each further attempt waits 2, 4, 8 ... seconds
  (at most 15 minutes), and during the wait even the right password is refused, unchecked.
- An OIDC provider in `.streamlit/secrets.toml` ([auth] with redirect_uri, cookie_secret, client_id,
  client_secret, server_metadata_url): Streamlit's own st.login / st.user.
Once signed in, the sidebar says who is.
"""

from __future__ import annotations

import hmac
import math
import os
import threading
import time
import tomllib
from pathlib import Path
from typing import Callable

PASSWORD_ENV = "DICOM_GRAPH_DASHBOARD_PASSWORD"
USER_ENV = "DICOM_GRAPH_DASHBOARD_USER"
MAX_CLIENTS = 10_000


class LoginLimiter:
    """Wrong passwords per client, in this server process (shared by every session, as the module is).

    A client is its IP address; behind a proxy, or on localhost (where Streamlit gives none), all share one
    budget, so a guesser slows everyone down rather than guessing faster."""

    def __init__(self, free_attempts: int = 5, max_wait_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free_attempts, self.max_wait_s, self.clock = free_attempts, max_wait_s, clock
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (wrong passwords in a row, last at)
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """Seconds before this client's next attempt is checked (0: now)."""
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
        if count < self.free_attempts:
            return 0.0
        backoff = min(2.0 ** (count - self.free_attempts + 1), self.max_wait_s)
        return max(0.0, last + backoff - self.clock())

    def failed(self, client: str) -> None:
        with self._lock:
            count, _ = self._failures.get(client, (0, 0.0))
            now = self.clock()
            self._failures[client] = (count + 1, now)
            if len(self._failures) > MAX_CLIENTS:  # many addresses: forget those idle past the longest wait
                self._failures = {c: f for c, f in self._failures.items() if now - f[1] < self.max_wait_s}

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


LIMITER = LoginLimiter()


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
            ip = st.context.ip_address
            client = ip if isinstance(ip, str) and ip else "local"
            wait = LIMITER.wait_s(client)
            if wait > 0:  # not even checked: a right guess during the wait must not be confirmed
                st.error(f"Too many wrong passwords: try again in {math.ceil(wait)} s.")
            elif hmac.compare_digest(password.encode(), expected.encode()):
                LIMITER.succeeded(client)
                st.session_state["_signed_in"] = user.strip() or "team member"
                st.rerun()
            else:
                LIMITER.failed(client)
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
