"""Named queries: network."""

from . import NamedQuery, register

register()
