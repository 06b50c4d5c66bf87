"""dicom-graph: the DICOM Information Model as a graph, the standard's definitions joined to real data.

`import dicom_graph as dg; g = dg.connect()` is the analysts' API (dicom_graph.api). It is loaded on first
use (PEP 562 `__getattr__`), because every `dicom-graph` command imports this package first and must not
pay for pandas, networkx or the engines when it does not use them (`dicom-graph --help`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Graph", "__version__", "connect"]

if TYPE_CHECKING:
    from dicom_graph.api import Graph, connect


def __getattr__(name: str) -> Any:
    if name in ("connect", "Graph"):
        from dicom_graph import api

        return getattr(api, name)
    raise AttributeError(f"module 'dicom_graph' has no attribute {name!r}")
