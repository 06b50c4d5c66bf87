"""Entity consistency as data: every attribute whose value differs between instances of one entity.

Why: the instances of a study repeat its context (patient, study, series, equipment, frame of reference)
and the graph normalizes it into one node per entity, so two StudyDates under one Study Instance UID
would leave one on the node and the other nowhere ("studies on day D" would miss one). dcentvfy
(dicom3tools) reports such disagreements; this module records them, in the writer process, for the file
ingest and the listener alike: both go through `resolve.add_study_patient_keys`, which calls
`record_entity_values` first.

What is recorded where:
- an entity's attributes are the top-level keywords of the standard's modules of its information entity
  (highdicom's tables: Patient, Study, Series, Equipment, Frame of Reference), read from each instance's
  typed properties (every top-level keyword is one), so PatientSize counts for the Study as dcentvfy does;
- `EntityValues {key: "Label|entity key"}` (bookkeeping) holds, as JSON, every value each attribute
  has been seen with and how many instance versions carried it. A version (SOP Instance UID + content
  hash) counts once: a file ingested again adds nothing, so the record is the same whatever order,
  batches or runs the files come in. The ingest writes these records with the instances' content
  hashes, just before them, after the rest of the graph (writer.py): only a kill -9 between those two
  statements (a large batch on the embedded engine) counts the batch in flight twice on --resume, and
  none leaves an entity or a value unrecorded (the values are a set union and stay exact);
- `EntityConflict {key: "Label|entity key|keyword"}` (public, `entity_conflicts`) for every attribute
  with more than one value: the values as text (sorted), the counts aligned with them, and `kept`;
- the deterministic value: the entity node keeps the smallest value as text (ISO dates, so the earliest
  date), whatever order the files arrive in. A batch whose own value is not the one to keep leaves the
  node's property alone (a batch row without a property does not change it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable

from dicom_graph.loader.ingest.sizes import LOOKUP_CHUNK
from dicom_graph.loader.standard import highdicom_standard
from dicom_graph.model import schema
from dicom_graph.model.batch import GraphBatch

if TYPE_CHECKING:
    from dicom_graph.loader.dataset.extract import Extracted

# the information entity of each entity label, as the standard's IOD tables name it
ENTITY_IES = {"Patient": "Patient", "Study": "Study", "Series": "Series", "Equipment": "Equipment",
              "FrameOfReference": "Frame of Reference"}

Observed = dict[str, dict[str, int]]  # keyword -> value text -> instance versions


@lru_cache(maxsize=1)
def entity_keywords() -> dict[str, frozenset[str]]:
    """Label -> the top-level keywords of every module any IOD places in that label's IE."""
    standard = highdicom_standard.load()
    found: dict[str, set[str]] = {label: set() for label in ENTITY_IES}
    by_ie = {ie: label for label, ie in ENTITY_IES.items()}
    for modules in standard.iod_modules.values():
        for module in modules:
            label = by_ie.get(module.get("ie", ""))
            if label is None:
                continue
            found[label].update(a["keyword"] for a in standard.module_attributes.get(module["key"], [])
                                if not a.get("path"))
    return {label: frozenset(kws) for label, kws in found.items()}


def value_text(value: Any) -> str:
    """A typed value as the text conflicts compare and record: ISO dates, multi-values joined by `\\`."""
    if isinstance(value, (list, tuple)):
        return "\\".join(value_text(v) for v in value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def record_entity_values(store: Any, batch: GraphBatch, extracted: Iterable[Extracted]) -> None:
    """Add to `batch` the EntityValues and EntityConflict rows for the entities of `extracted`, and set
    each entity row's conflicting properties to the value to keep (see the module doc)."""
    seen, typed = _batch_values(store, list(extracted))
    keys = sorted(typed)  # every entity the batch writes a row for, new versions or not
    recorded: dict[str, Observed] = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        for row in store.run("entity_values", keys=keys[start:start + LOOKUP_CHUNK]).records():
            recorded[row["key"]] = json.loads(row["observed"] or "{}")
    for values_key in keys:
        label, entity_key = values_key.split("|", 1)
        observed = recorded.get(values_key, {})
        changed = fold_counts(observed, seen.get(values_key, {}))
        if changed:
            batch.add_node("EntityValues", {"key": values_key, "entity": label, "entity_key": entity_key,
                                            "observed": json.dumps(observed, sort_keys=True)})
        for keyword, counts in observed.items():
            if len(counts) > 1:
                _conflict(batch, label, entity_key, keyword, counts, typed[values_key], changed)


def _batch_values(store: Any, extracted: list[Extracted]) -> tuple[dict[str, Observed],
                                                                    dict[str, dict[tuple[str, str], Any]]]:
    """("Label|key" -> keyword -> value text -> versions the graph has not counted yet, and for every
    entity of the batch the typed value of each (keyword, text) its instances carry).

    The instances of a series repeat their entities' values, and a batch holds them one after another
    (sorted by path), so each entity's values are taken in one step (`_taken`, in C) and compared with
    the ones its previous instance carried: only a change is turned into texts and counted. The same
    records as counting every keyword of every instance, which took ~220 us per instance, a sixth of
    the writer's own time (bench/README.md, "The garbage collector, and entity values in runs")."""
    known = _known_versions(store, sorted({ex.sop_instance_uid for ex in extracted if not ex.normalized}))
    seen: dict[str, Observed] = defaultdict(lambda: defaultdict(dict))
    typed: dict[str, dict[tuple[str, str], Any]] = defaultdict(dict)
    runs: dict[str, _Run] = {}  # per entity: the values its latest instances carried, and how many were new
    for ex in extracted:
        if ex.normalized:
            continue
        version = (ex.sop_instance_uid, ex.content_hash)
        new = version not in known
        known.add(version)  # a second copy in the same batch counts once
        props = ex.batch.nodes.get("Instance", {}).get(ex.sop_instance_uid, {})
        for label, keywords, take in _taken(tuple(props)):
            values = take(props)
            for key in ex.batch.nodes.get(label, ()):
                values_key = f"{label}|{key}"
                run = runs.get(values_key)
                if run is None or run.keywords != keywords or run.values != values:
                    if run is not None:
                        run.count(seen, typed)
                    run = runs[values_key] = _Run(values_key, keywords, values)
                run.new += new
    for run in runs.values():
        run.count(seen, typed)
    return seen, typed


@dataclass
class _Run:
    """Consecutive instances of one entity that carry the same values: counted once, `new` times."""

    values_key: str
    keywords: tuple[str, ...]
    values: tuple[Any, ...]
    new: int = 0

    def count(self, seen: dict[str, Observed], typed: dict[str, dict[tuple[str, str], Any]]) -> None:
        mine = typed[self.values_key]
        for keyword, value in zip(self.keywords, self.values, strict=True):
            text = value_text(value)
            mine[(keyword, text)] = value
            if self.new:
                counts = seen[self.values_key][keyword]
                counts[text] = counts.get(text, 0) + self.new


@lru_cache(maxsize=4096)
def _taken(keywords: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...], Callable[[Any], tuple[Any, ...]]], ...]:
    """For an instance with these property keywords: (label, its entity keywords among them, what takes
    their values from the properties as a tuple, in C) per label that has any. Cached: the instances of
    an archive come in a few shapes."""
    found = []
    for label, kws in entity_keywords().items():
        mine = tuple(k for k in keywords if k in kws)
        if mine:
            found.append((label, mine, _getter(mine)))
    return tuple(found)


def _getter(keywords: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    get = itemgetter(*keywords)
    if len(keywords) == 1:  # itemgetter of one key returns the value itself
        return lambda props: (get(props),)
    return get


def _known_versions(store: Any, uids: list[str]) -> set[tuple[str, str]]:
    """(uid, content hash) of every version of these instances the graph already holds."""
    known: set[tuple[str, str]] = set()
    for start in range(0, len(uids), LOOKUP_CHUNK):
        for row in store.run("instance_hashes", uids=uids[start:start + LOOKUP_CHUNK]).records():
            if not row.get("stub"):
                hashes = [row["content_hash"], *(row.get("conflicting_hashes") or [])]
                known.update((row["uid"], h) for h in hashes if h)
    return known


def fold_counts(observed: Observed, new: Observed) -> bool:
    """Add this batch's (or shard's) counts to the recorded ones; True when anything was added."""
    for keyword, counts in new.items():
        mine = observed.setdefault(keyword, {})
        for text, n in counts.items():
            mine[text] = mine.get(text, 0) + n
    return bool(new)


def conflict_row(label: str, entity_key: str, keyword: str, counts: dict[str, int]) -> dict[str, Any]:
    """The EntityConflict row of one attribute seen with several values: the smallest (as text) is kept."""
    values = sorted(counts)
    return {"key": f"{label}|{entity_key}|{keyword}", "entity": label, "entity_key": entity_key,
            "keyword": keyword, "values": values, "counts": [counts[v] for v in values], "kept": values[0]}


def _conflict(batch: GraphBatch, label: str, entity_key: str, keyword: str, counts: dict[str, int],
              typed: dict[tuple[str, str], Any], changed: bool) -> None:
    """The conflict row, and the entity row's property set to the value kept (or left to the graph)."""
    conflict = conflict_row(label, entity_key, keyword, counts)
    kept = conflict["kept"]
    if changed:
        batch.add_node("EntityConflict", conflict)
    row = batch.nodes.get(label, {}).get(entity_key)
    if row is None or keyword not in row:
        return
    if (keyword, kept) in typed:
        row[keyword] = schema.coerce(typed[(keyword, kept)], schema.property_type(label, keyword))
    else:  # kept from an earlier batch: the node already holds it
        del row[keyword]
