"""`dicom-graph standard fetch`: NEMA's DocBook parts of any edition into a user cache, verified.

The offline load follows the editions its packages and vendored tables were made from; a user who needs
the standard as it is today (or as it was for a conformance statement) fetches that edition's PS3.3,
PS3.4 and PS3.6 from NEMA and loads them like `standard load --docbook`. A download is written beside
its final name and moved there only when every asked part is whole and verified: a cut connection or a
wrong file leaves the cache as it was, and nothing is loaded.

Verified: well-formed XML (parsed strictly, not in the DocBook reader's recovering mode), a DocBook book
whose label is the part asked for (`PS3.3`), and whose subtitle names the edition asked for
(`DICOM PS3.3 2016c - ...`; any edition for `current`, which is then recorded by its real name).
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lxml import etree

DEFAULT_BASE_URL = "https://dicom.nema.org/medical/dicom"
PARTS = (3, 4, 6)
_CHUNK = 1 << 20
_DB = "{http://docbook.org/ns/docbook}"
_EDITION = re.compile(r"^(?:current|\d{4}[a-e]?)$")

# (part number, bytes so far, total bytes or None): the command's progress bar
Progress = Callable[[int, int, "int | None"], None]


class FetchError(RuntimeError):
    """A part could not be downloaded or is not the part and edition asked for (one line, for users)."""


@dataclass(frozen=True)
class Fetched:
    directory: Path
    editions: dict[int, str]  # part number -> the edition its subtitle names, e.g. "DICOM PS3.3 2016c"


def cache_root() -> Path:
    """DICOM_GRAPH_CACHE, else $XDG_CACHE_HOME/dicom-graph, else ~/.cache/dicom-graph."""
    if os.environ.get("DICOM_GRAPH_CACHE"):
        return Path(os.environ["DICOM_GRAPH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dicom-graph"


def part_url(base_url: str, edition: str, part: int) -> str:
    return f"{base_url.rstrip('/')}/{edition}/source/docbook/part{part:02d}/part{part:02d}.xml"


def verify(path: Path, part: int, edition: str) -> str:
    """The edition the file's subtitle names, or FetchError when it is not that part of that edition."""
    try:
        root = etree.parse(str(path), etree.XMLParser(huge_tree=True, resolve_entities=False, collect_ids=False)).getroot()
    except etree.XMLSyntaxError as exc:
        raise FetchError(f"part{part:02d}.xml is not well-formed XML ({exc}): the download is cut or not DocBook") from None
    label = (root.get("label") or root.get("{http://www.w3.org/XML/1998/namespace}id") or "").replace(" ", "")
    if root.tag != f"{_DB}book" or label != f"PS3.{part}":
        raise FetchError(f"part{part:02d}.xml is not DocBook PS3.{part} (its book is {label or root.tag!r})")
    subtitle = " ".join("".join(root.findtext(f"{_DB}subtitle") or "").split())
    m = re.search(r"PS\s?3\.(\d+)\s+(\d{4}[a-e]?)\b", subtitle)
    if m is None or int(m.group(1)) != part:
        raise FetchError(f"part{part:02d}.xml names no edition of PS3.{part} in its subtitle ({subtitle!r})")
    if edition != "current" and m.group(2) != edition:
        raise FetchError(f"part{part:02d}.xml is edition {m.group(2)}, not the {edition} asked for")
    return f"DICOM PS3.{part} {m.group(2)}"


def _download(url: str, target: Path, part: int, progress: Progress | None, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:  # noqa: S310
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(part, done, total)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot download {url}: {reason} (no internet? try --base-url, or "
                         f"`standard load --docbook DIR` with parts downloaded by hand)") from None
    if total is not None and done < total:
        raise FetchError(f"cannot download {url}: the connection closed after {done:,} of {total:,} bytes")


def fetch(edition: str = "current", base_url: str = DEFAULT_BASE_URL, parts: tuple[int, ...] = PARTS,
          cache: Path | None = None, progress: Progress | None = None, timeout: float = 60.0) -> Fetched:
    """Download (or reuse from the cache, except `current`) the parts of one edition; all or nothing."""
    if not _EDITION.match(edition):
        raise FetchError(f"--edition {edition!r}: an edition is 'current' or a year and letter, e.g. 2026b")
    if not parts or any(p not in PARTS for p in parts):
        raise FetchError(f"--part: PS3.3, PS3.4 and PS3.6 are read (3, 4, 6), not {list(parts)}")
    directory = (cache or cache_root()) / "docbook" / edition
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(f"{directory}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    editions: dict[int, str] = {}
    try:
        for part in parts:
            name = f"part{part:02d}.xml"
            cached = directory / name
            if edition != "current" and cached.is_file():
                try:
                    editions[part] = verify(cached, part, edition)
                    continue
                except FetchError:
                    pass  # a damaged cache entry is downloaded again
            _download(part_url(base_url, edition, part), staging / name, part, progress, timeout)
            editions[part] = verify(staging / name, part, edition)
        for produced in staging.iterdir():
            os.replace(produced, directory / produced.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Fetched(directory, editions)


def load_view(fetched: Fetched, into: Path) -> Path:
    """A folder holding only the parts fetched this time (links into the cache), for the DocBook load:
    a part cached by an earlier fetch and not asked for now is not loaded with them."""
    into.mkdir(parents=True, exist_ok=True)
    for part in fetched.editions:
        name = f"part{part:02d}.xml"
        (into / name).symlink_to(fetched.directory / name)
    return into
