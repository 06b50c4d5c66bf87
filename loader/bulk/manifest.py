"""The extraction's manifest: what was asked, which files each chunk holds, which chunks are done.

Why a manifest: it is the extraction's checkpoint and the load's contract. A chunk is recorded done
(OUT/done/<id>.json, by its own task) only after all its shards and its report lines are in place
(shards.write_atomically), and every file is replaced atomically, so after a kill -9 the same command
redoes exactly the chunks that have no done record. It records the schema version the shards were written for (the one the graph records in
its GraphVersion node): `load` refuses shards of another version rather than misread them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from dicom_graph import __version__
from dicom_graph.loader.bulk.shards import MANIFEST, write_atomically
from dicom_graph.loader.ingest.sources import SourceFile
from dicom_graph.model import graph_version

FORMAT = 1


class ManifestError(Exception):
    """Shards that cannot be extracted into or loaded as they are; the message is one line for stderr."""


def new(run_key: str, paths: list[str], chunks: list[list[SourceFile]], chunk_files: int,
        conformance_checked: bool) -> dict[str, Any]:
    return {"format": FORMAT, "schema_version": graph_version.SCHEMA_VERSION, "dicom_graph_version": __version__,
            "run_key": run_key, "paths": paths, "chunk_files": chunk_files,
            "conformance_checked": conformance_checked,
            "chunks": [{"id": i, "files": [[f.path, f.size, f.mtime_ns] for f in files]}
                       for i, files in enumerate(chunks)],
            "done": {}, "skipped": [], "finished": False}


def read(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ManifestError(f"{path} is not a readable manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise ManifestError(f"{path} is not a dicom-graph extract manifest of format {FORMAT}")
    return manifest


def save(out: Path, manifest: dict[str, Any]) -> None:
    """Streamed to the file a chunk per line: the text of a manifest listing a million files (~100 MB) is
    never held, and each line is encoded by json's C encoder (`json.dump` is the pure-Python one: 10 s
    per save at 1M files)."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            for n, name in enumerate(sorted(manifest)):
                fh.write(("{" if n == 0 else ",\n") + json.dumps(name) + ": ")
                if name != "chunks":
                    fh.write(json.dumps(manifest[name], sort_keys=True))
                    continue
                for i, chunk in enumerate(manifest[name]):
                    fh.write(("[\n" if i == 0 else ",\n") + json.dumps(chunk, sort_keys=True))
                fh.write("]" if manifest[name] else "[]")
            fh.write("}\n" if manifest else "{}\n")

    write_atomically(out / MANIFEST, write)


def check_same_files(old: dict[str, Any], new_manifest: dict[str, Any], out: Path) -> None:
    """Resuming is only right for the same files in the same chunks (shards name chunks by number)."""
    for field in ("paths", "chunk_files", "chunks", "schema_version", "conformance_checked"):
        if old.get(field) != new_manifest.get(field):
            raise ManifestError(f"{out} holds an extraction of other files or settings ({field} differs): "
                                f"extract into a new --out, or delete {out}")


def mark_done(out: Path, chunk_id: int, result: dict[str, Any]) -> None:
    """The chunk's done record, written by its task once its shards are in place: one small file per
    chunk (rewriting a manifest that lists a million files after every chunk would cost more than the
    chunk), folded into manifest.json when the extraction ends."""
    record = {**result, "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    text = json.dumps(record, sort_keys=True)
    write_atomically(out / "done" / f"{chunk_id}.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def done_records(out: Path) -> dict[str, Any]:
    """chunk id (as text, JSON's keys) -> its done record, for every chunk whose record is in place."""
    folder = out / "done"
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")}


def check_loadable(manifest: dict[str, Any], out: Path) -> None:
    if manifest["schema_version"] != graph_version.SCHEMA_VERSION:
        raise ManifestError(f"{out} was extracted for schema version {manifest['schema_version']}; this "
                            f"dicom-graph writes version {graph_version.SCHEMA_VERSION}: extract again")
    missing = len(manifest["chunks"]) - len(manifest["done"])
    if missing or not manifest.get("finished"):
        raise ManifestError(f"{out}: the extraction did not finish ({missing} chunks missing): run the same "
                            f"`dicom-graph extract` again, it redoes only those")
