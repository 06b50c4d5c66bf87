"""A BulkPlan as `neo4j-admin database import full` input (Parquet), and running the tool.

Why Parquet and not CSV: the import tool of Neo4j 5.26 (Community too) reads Parquet with
`--input-type=parquet`, and the plan already is Parquet shards and Arrow tables: the rows are renamed
and rewritten column by column, never turned into text and parsed back (CSV would need quoting,
array delimiters and a text form of dates that round-trips). The columns carry the tool's header
conventions in their names: the key as `<key>:ID(<Label>)` (one id space per label, so keys only need
be unique per label, as the schema's constraints make them), `:LABEL`, every property `name:<type>`
typed from the schema (HEADER_TYPES), edges as `:START_ID(<Label>)`, `:END_ID(<Label>)`, `:TYPE`.

What the import writes is what the UNWIND path (neo4j.py) writes: full nodes carry `stub: false`,
stubs only their key and `stub: true`, a null is no property, an empty list is an empty list (Neo4j
stores `[]` both ways), dates are DATE and timestamps LOCAL DATETIME, as the driver sends Python's
`date` and naive `datetime`.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .. import schema
from ..arrow import column
from ..values import ValueType
from .base import StoreError

if TYPE_CHECKING:
    import pyarrow as pa

    from ..bulk import BulkPlan

# the schema's neutral types in the import tool's header words (Neo4j's own names for its types)
_SCALAR = {ValueType.STRING: "string", ValueType.INTEGER: "long", ValueType.FLOAT: "double",
           ValueType.BOOLEAN: "boolean", ValueType.DATE: "date", ValueType.TIMESTAMP: "localdatetime"}
HEADER_TYPES: dict[ValueType, str] = {**_SCALAR, **{lst: _SCALAR[item] + "[]"
                                                    for lst, item in schema.LIST_ELEMENT_TYPE.items()}}


@dataclass
class ImportFiles:
    """The files written, grouped as the tool takes them (one `--nodes` / `--relationships` each)."""

    folder: Path
    nodes: list[Path] = field(default_factory=list)
    relationships: list[Path] = field(default_factory=list)
    rows: int = 0
    node_counts: dict[str, int] = field(default_factory=dict)  # what the imported graph must hold at least
    rel_counts: dict[str, int] = field(default_factory=dict)

    def count(self, counts: dict[str, int], name: str, rows: int) -> None:
        counts[name] = counts.get(name, 0) + rows
        self.rows += rows

    def arguments(self, database: str) -> list[str]:
        # the tool's report (bad entries) goes beside its input, not into whatever the working directory is
        return ["database", "import", "full", database, "--input-type=parquet",
                f"--report-file={self.folder / 'import.report'}",
                *(f"--nodes={p}" for p in self.nodes), *(f"--relationships={p}" for p in self.relationships)]

    def command(self, admin: str, database: str) -> list[str]:
        """`admin @FOLDER/import.args`: the arguments in a picocli argument file (neo4j-admin reads one),
        since an archive of 1,000 chunks gives ~8,000 file arguments, too long to show or to paste."""
        argfile = self.folder / "import.args"
        argfile.write_text("".join(_argfile_word(a) + "\n" for a in self.arguments(database)), encoding="utf-8")
        return [admin, f"@{argfile}"]


def _argfile_word(word: str) -> str:
    if not any(c.isspace() or c in "\"'\\#" for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _header(name: str, type_: ValueType) -> str:
    return f"{name}:{HEADER_TYPES[type_]}"


def _node_file(label: str, table: pa.Table, stub: bool) -> pa.Table:
    import pyarrow as pa

    key = schema.node(label).key
    table = table.drop([c for c in table.column_names if c == "stub"])
    names = [f"{key}:ID({label})" if c == key else _header(c, schema.property_type(label, c))
             for c in table.column_names]
    table = table.rename_columns(names)
    table = table.append_column(":LABEL", pa.array([label] * table.num_rows, pa.string()))
    return table.append_column("stub:boolean", pa.array([stub] * table.num_rows, pa.bool_()))


def _rel_file(group: tuple[str, str, str], table: pa.Table) -> pa.Table:
    import pyarrow as pa

    rel_type, a, b = group
    names = [f":START_ID({a})", f":END_ID({b})",
             *(_header(c[2:], schema.rel_property_type(rel_type, c[2:])) for c in table.column_names[2:])]
    table = table.rename_columns(names)
    return table.append_column(":TYPE", pa.array([rel_type] * table.num_rows, pa.string()))


def _tables(files: dict[str, list[Path]] | dict[tuple[str, str, str], list[Path]],
            tables: dict[str, pa.Table] | dict[tuple[str, str, str], pa.Table]) -> Iterator[tuple[object, pa.Table]]:
    import pyarrow.parquet as pq

    for name, paths in files.items():
        for path in paths:
            yield name, pq.read_table(path)
    yield from tables.items()


def write_import(plan: BulkPlan, folder: Path, extra_nodes: dict[str, pa.Table]) -> ImportFiles:
    """Write the plan (and `extra_nodes`, the load's own IngestRun) into `folder`, one Parquet file per
    shard or table, replacing an earlier write's; a file's rows are one label or type, so every file is
    its own header group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob("nodes-*.parquet"), *folder.glob("stubs-*.parquet"), *folder.glob("rels-*.parquet")]:
        stale.unlink()  # a previous write's files, and only those: the folder may hold other things
    files = ImportFiles(folder)

    def put(kind: str, table: pa.Table) -> Path:
        path = folder / f"{kind}-{len(files.nodes) + len(files.relationships):06d}.parquet"
        pq.write_table(table, path)
        return path

    for label, table in _tables(plan.node_files, extra_nodes):
        if table.num_rows:
            files.nodes.append(put("nodes", _node_file(str(label), table, stub=False)))
            files.count(files.node_counts, str(label), table.num_rows)
    for label, keys in plan.stubs.items():
        node_type = schema.node(label)
        stubs = pa.table({node_type.key: column(keys, node_type.props[node_type.key])})
        files.nodes.append(put("stubs", _node_file(label, stubs, stub=True)))
        files.count(files.node_counts, label, len(keys))
    for group, table in _tables(plan.rel_files, {}):
        if table.num_rows:
            files.relationships.append(put("rels", _rel_file(group, table)))  # type: ignore[arg-type]
            files.count(files.rel_counts, group[0], table.num_rows)  # type: ignore[index]
    return files


def run_import(command: list[str]) -> None:
    """Run the tool; its failure as one line: the first line of its output that says why (the tool puts
    the reason first, then a WARNING about the store files, stack frames and a --verbose hint)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise StoreError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + "\n" + done.stdout).splitlines()]
        why = next((line for line in lines if line and not line.startswith(_NOT_THE_REASON)), "no output")
        raise StoreError(f"{shlex.join(command)} (database import full) failed (exit {done.returncode}): {why}")


_NOT_THE_REASON = ("at ", "...", "WARNING", "Run with '--verbose'", "Caused by")
