"""`python -m dicom_graph` in a checkout that was never installed: the package the install maps (cli/ as
`dicom_graph`, with model/, loader/ and dashboard/ inside it) from the same files, so that nothing here is
a second copy. cli/__init__.py is the package's own text and runs here as it does when installed."""

from pathlib import Path

__version__: str  # for type checkers, which read this file as the package: cli/__init__.py sets it
_CLI = Path(__file__).resolve().parent.parent / "cli"
__path__ = [str(_CLI), str(_CLI.parent)]  # cli's modules first, then model/, loader/, dashboard/
exec(compile((_CLI / "__init__.py").read_text(), str(_CLI / "__init__.py"), "exec"))
