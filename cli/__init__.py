"""dicom-graph: the DICOM Information Model as a graph, the standard's definitions joined to real data."""

__version__ = "0.1.0"
