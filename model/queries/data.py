"""Named queries: data."""

from . import NamedQuery, register

register()
