"""`python -m dicom_graph` is the `dicom-graph` console script."""

from dicom_graph.app import main

main()
