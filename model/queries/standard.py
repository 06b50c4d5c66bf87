"""Named queries: standard."""

from . import NamedQuery, register

register()
