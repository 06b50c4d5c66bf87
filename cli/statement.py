"""What to send for a statement a user typed: a named query's text per dialect and its bound parameters, or
the Cypher as given. Shared by `dicom-graph query` and the Python API, so `g.query(name)` and
`dicom-graph query name` can never disagree on what a name means or what a query takes."""

from __future__ import annotations

import re
from typing import Any, Callable

_BARE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def resolve(cypher: str, given: dict[str, Any]) -> tuple[Callable[[str], str], dict[str, Any]]:
    """One word is a named query (or a typo of one: UnknownQuery says which it may be), unless it is a
    statement of its own (CHECKPOINT, BEGIN, ...): that goes on as Cypher, so the read path can say why it
    is refused. Raw Cypher must be given every `$name` it uses (ParameterError), before any engine sees it."""
    from dicom_graph.model import queries
    from dicom_graph.model.queries.errors import ParameterError
    from dicom_graph.model.read_only.vocabulary import READ_STARTS, REFUSED

    word = cypher.strip()
    if _BARE_NAME.match(word) and word.upper() not in REFUSED and word.upper() not in READ_STARTS:
        named = queries.get(word)
        return named.text, named.bind(given)
    missing = sorted(queries.parameters_in(cypher) - set(given))
    if missing:
        raise ParameterError(f"the query uses {', '.join('$' + m for m in missing)}; give "
                             f"{' '.join(f'-p {m}=VALUE' for m in missing)}")
    return lambda _dialect: cypher, given
