"""Named queries: the overview, pointers and the analysts' example library."""

from . import NamedQuery, register

register()
