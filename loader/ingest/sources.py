"""Where instances come from: walking paths, recognising what a file is, reading its headers.

- `walk(paths)`: every regular file under each path, recursively, in a stable order, with size and mtime;
  what it skips (FIFOs, sockets, dangling or outward symlinks, unreadable entries) is told, with a reason.
- `stored_path(path)`: the text (and, for paths that are not UTF-8, the bytes) a path is stored as.
- `sniff(head, name)`: what a file is from its first bytes: Part 10 ('DICM' at 128), a preamble-less
  dataset (starts with a plausible group 0002 / 0008 element, little or big endian), a DICOM JSON
  document (`.json` whose text starts with `{` or `[`), or not DICOM (with a reason; gzip, zip, PDF,
  images, ICC profiles... are named). Non-DICOM files are rejected after reading 256 bytes.
- `read_file(path)`: the datasets of one file (a DICOM JSON array gives several), headers only: reading
  stops before Pixel Data, and values larger than DEFER_SIZE are not read at all (bulk data stays on
  disk; a large sequence is read on demand because its pointers matter).
"""

from __future__ import annotations

import inspect
import json
import os
import stat
import warnings
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable, Iterator

import pydicom
from pydicom.dataset import Dataset

from dicom_graph.loader.dataset import part10

DEFER_SIZE = 16 * 1024
HEAD_SIZE = 256


class NotDicom(ValueError):
    """The file is not DICOM (Part 10, dataset or DICOM JSON)."""


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file the walk found. Slots: the extract's driver holds one per file of the archive (47 MB
    less per million files than with a __dict__)."""

    path: str
    size: int
    mtime_ns: int


Skip = Callable[[str, str], None]  # (path, reason) of an entry the walk does not yield


def _ignore(path: str, reason: str) -> None:
    return None


def walk(paths: Iterable[str], skip: Iterable[str] = (), on_skip: Skip = _ignore) -> Iterator[SourceFile]:
    """Every regular file under the given paths (files are taken as they are), sorted per directory.

    What is not yielded is told to `on_skip` with a reason, so that the report can say it: FIFOs,
    sockets and devices (reading one would block or never end), dangling symlinks, symlinks that lead
    out of the given trees (a link to / would ingest a whole machine unasked), and entries or folders
    that cannot be stat'ed or listed.
    """
    skip_set = {os.path.abspath(s) for s in skip}
    tops = [os.path.abspath(p) for p in paths]
    roots = [os.path.realpath(p) for p in tops]
    seen_dirs: set[tuple[int, int]] = set()
    for top in tops:
        if not os.path.isdir(top):
            if not os.path.lexists(top):
                raise FileNotFoundError(f"no such file or directory: {top}")
            if top not in skip_set:
                yield from _entry(top, roots, on_skip, given=True)
            continue
        stack = [top]
        while stack:
            d = stack.pop()
            try:
                st = os.stat(d)
                ident = (st.st_dev, st.st_ino)
                if ident in seen_dirs:
                    continue  # symlink loop or the same tree given twice
                seen_dirs.add(ident)
                with os.scandir(d) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                on_skip(d, f"folder not read: {exc.strerror or exc}")
                continue
            subdirs = []
            for e in entries:
                if e.path in skip_set:
                    continue
                try:
                    if e.is_dir():
                        if not e.is_symlink() or _inside(e.path, roots, on_skip):
                            subdirs.append(e.path)
                        continue
                except OSError as exc:
                    on_skip(e.path, f"not read: {exc.strerror or exc}")
                    continue
                yield from _entry(e.path, roots, on_skip)
            stack.extend(reversed(subdirs))


def _entry(path: str, roots: list[str], on_skip: Skip, given: bool = False) -> Iterator[SourceFile]:
    """The SourceFile of one non-folder entry, or the reason it is skipped."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        on_skip(path, f"dangling symlink to {os.readlink(path)}" if os.path.islink(path) else "vanished")
        return
    except OSError as exc:
        on_skip(path, f"not read: {exc.strerror or exc}")
        return
    if not stat.S_ISREG(st.st_mode):
        on_skip(path, f"not a regular file: {_kind(st.st_mode)}")
        return
    if not given and os.path.islink(path) and not _inside(path, roots, on_skip):
        return
    yield SourceFile(path, st.st_size, st.st_mtime_ns)


def _inside(link: str, roots: list[str], on_skip: Skip) -> bool:
    """Whether a symlink's target lies in one of the trees being ingested; if not, it is reported."""
    target = os.path.realpath(link)
    if any(target == r or target.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
        return True
    on_skip(link, f"symlink out of the ingested folders, to {target}: not followed")
    return False


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "unknown file type"


def stored_path(path: str) -> tuple[str, str | None]:
    """How a path is stored: (text, hex of its bytes or None).

    Paths are bytes on POSIX; Python gives those that are not UTF-8 as text with surrogate escapes,
    which neither engine nor a UTF-8 report can hold. Such a path is stored as its bytes decoded with
    backslash escapes (`M\\xfcller^Hans.dcm`: readable, and what SourceFile is keyed by) plus the exact
    bytes in hex (`path_hex`), from which `os.fsdecode(bytes.fromhex(h))` opens the file again.
    A UTF-8 path is stored as it is, with no hex.
    """
    try:
        path.encode("utf-8")
        return path, None
    except UnicodeEncodeError:
        raw = os.fsencode(path)
        return raw.decode("utf-8", "backslashreplace"), raw.hex()


_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"PK\x03\x04", "zip archive"),
    (b"%PDF", "PDF document"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ", "xz-compressed data"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
)
_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
        b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
        b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV"}


def sniff(head: bytes, name: str = "") -> str:
    """'part10', 'dataset' (no preamble / file meta), 'json', or raise NotDicom with a reason."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "part10"
    if name.lower().endswith(".json"):
        stripped = head.lstrip()
        if stripped[:1] in (b"{", b"["):
            return "json"
        raise NotDicom("not DICOM JSON: .json file that is not a JSON object or array")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise NotDicom(f"not DICOM: {what}")
    if len(head) >= 40 and head[36:40] == b"acsp":
        raise NotDicom("not DICOM: ICC colour profile")
    if len(head) >= 8:
        for order in ("little", "big"):
            group = int.from_bytes(head[0:2], order)
            element = int.from_bytes(head[2:4], order)
            if group in (0x0002, 0x0008) and element < 0x2000 and (
                    head[4:6] in _VRS or int.from_bytes(head[4:8], order) < 0x10000):
                return "dataset"
    if head.lstrip()[:1] in (b"{", b"["):
        raise NotDicom("not DICOM Part 10: JSON text (DICOM JSON is read from .json files)")
    if len(head) < 132:
        raise NotDicom("not DICOM: too short for a Part 10 file and no dataset at its start")
    raise NotDicom("not DICOM: no 'DICM' prefix at byte 128 and no DICOM element at the start")


def _bulk_none(tag: str, vr: str, uri: str) -> None:
    """Bulk data stays where its URI says: the element is there, its value is not read."""
    return None


# pydicom asks inspect.signature() how many parameters the handler takes for every element it reads from
# JSON, a third of reading an MPPS document; a function's __signature__ is what signature() returns first.
# (With three parameters pydicom passes the handler itself down into sequence items, not a new wrapper.)
_bulk_none.__signature__ = inspect.signature(_bulk_none)  # type: ignore[attr-defined]


def read_json(path: str) -> list[Dataset]:
    """A DICOM JSON document (PS3.18 F.2): one object or an array of objects."""
    with open(path, "rb") as fh:
        doc = json.load(fh)
    objects = doc if isinstance(doc, list) else [doc]
    datasets = []
    for obj in objects:
        if not isinstance(obj, dict) or not obj or not all(
                isinstance(k, str) and len(k) == 8 for k in obj):
            raise NotDicom("not DICOM JSON: objects must be keyed by 8-hex-digit tags")
        datasets.append(Dataset.from_json(obj, bulk_data_uri_handler=_bulk_none))
    return datasets


def read_dataset(path: str, force: bool = False, fh: BinaryIO | None = None) -> Dataset:
    """Headers only; from `fh` when given (the worker's integrity.Tracked, rewound: most files' headers
    are then walked in memory by part10.py, into the objects pydicom would make), else from `path`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = part10.read(fh, DEFER_SIZE) if fh is not None and not force else None
        if ds is not None:
            return ds
        return pydicom.dcmread(fh if fh is not None else path, stop_before_pixels=True, defer_size=DEFER_SIZE,
                               force=force)


def read_file(path: str, head: bytes | None = None, fh: BinaryIO | None = None) -> tuple[str, list[Dataset]]:
    """(kind, datasets) of one file; NotDicom or a pydicom error when it cannot be read."""
    if head is None:
        with open(path, "rb") as first:
            head = first.read(HEAD_SIZE)
    kind = sniff(head, os.path.basename(path))
    if kind == "json":
        return kind, read_json(path)
    ds = read_dataset(path, force=(kind == "dataset"), fh=fh)
    if kind == "dataset" and len(ds._dict) == 0:
        raise NotDicom("not DICOM: no elements could be parsed")
    return kind, [ds]
