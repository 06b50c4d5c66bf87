"""The dicom-graph dashboard: `dicom-graph dashboard` runs `streamlit run` on this file.

Every page reads the graph read-only, through named queries only (dashboard/graph.py); a login gate
(dashboard/auth.py) comes first when one is configured.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dicom_graph.dashboard import auth, graph

HERE = Path(__file__).resolve().parent

PAGES = [  # (file, title, icon, url path)
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("standard.py", "Standard", ":material/menu_book:", "standard"),
    ("data.py", "Data", ":material/folder_open:", "data"),
    ("conformance.py", "Conformance", ":material/rule:", "conformance"),
    ("pointers.py", "Pointers", ":material/share:", "pointers"),
    ("network.py", "Network", ":material/lan:", "network"),
    ("cypher.py", "Cypher", ":material/terminal:", "cypher"),
]

st.set_page_config(page_title="dicom-graph", page_icon=":material/hub:", layout="wide")
auth.gate()
pages = [st.Page(str(HERE / "views" / file), title=title, icon=icon, url_path=path)
         for file, title, icon, path in PAGES]


def _home() -> None:
    """`/` shows the Overview at its own address. Streamlit serves its default page at `/` only, so an
    Overview marked default made `/overview` (a link, a bookmark, the README) a "Page not found" dialog;
    a hidden default that switches to it keeps both addresses working."""
    st.switch_page(pages[0])


navigation = st.navigation([st.Page(_home, title="Home", url_path="home", default=True, visibility="hidden"),
                            *pages])
graph.sidebar()
navigation.run()
