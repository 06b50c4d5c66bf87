"""The DICOM Information Model as graph definitions: `dicom-graph standard load`."""

from .catalog import StandardCatalog
from .load import build_catalog, format_summary, load_standard

__all__ = ["StandardCatalog", "build_catalog", "format_summary", "load_standard"]
