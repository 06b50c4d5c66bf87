"""What a caller of a named query got wrong, as StoreErrors: one line, and a usage error for the CLI.

A module of its own because these subclass the store's error while the store package imports the
queries package: the queries package imports this module only when it raises.
"""

from __future__ import annotations

from ..store import StoreError


class ParameterError(StoreError):
    """A named query was given a parameter it does not declare, or not given one it requires."""


class UnknownQuery(StoreError, KeyError):
    """No named query has this name (a KeyError too, as `queries.get` always raised)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
