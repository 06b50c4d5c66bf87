"""The in-memory Part 10 reader builds exactly what pydicom's reader builds (loader/ingest/part10.py).

Every file the suite has (pydicom's test files; ../shared/corpus when present) is read both ways from
its own integrity.Tracked: pydicom.dcmread as the worker calls it, and part10.read. Where part10 reads a
file (it declines what it does not mirror), the two FileDatasets must be equal object for object (every
RawDataElement field, every Sequence item and its tells, every dataset's encodings and flags), the file
left at the same place, and the damage report the same.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_files
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from dicom_graph.loader.dataset import part10
from dicom_graph.loader.ingest import integrity
from dicom_graph.loader.ingest.integrity import Tracked
from dicom_graph.loader.ingest.sources import DEFER_SIZE

from .conftest import SHARED


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two pydicom object graphs differ (empty when equal); `a` is part10's, `b` pydicom's."""
    if type(a) is not type(b):
        return [f"{where}: {type(a).__name__} != {type(b).__name__}"]
    if isinstance(a, Dataset):
        found = _attributes(a, b, where, skip={"_dict", "file_meta", "buffer"})  # buffer: each its own fh
        if hasattr(b, "file_meta"):
            found += differences(a.file_meta, b.file_meta, where + ".file_meta")
        if list(a._dict) != list(b._dict):
            return found + [f"{where}: tags {list(a._dict)} != {list(b._dict)}"]
        for tag in b._dict:
            found += differences(a._dict[tag], b._dict[tag], f"{where}[{tag:08X}]")
        return found
    if isinstance(a, RawDataElement):
        return [] if tuple(a) == tuple(b) else [f"{where}: {tuple(a)} != {tuple(b)}"]
    if isinstance(a, DataElement):
        return _attributes(a, b, where, skip={"_value"}) + differences(a.value, b.value, where + ".value")
    if isinstance(a, Sequence):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items != {len(b)}"]
        found = _attributes(a, b, where, skip={"_list"})
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found += differences(x, y, f"{where}/{i}")
        return found
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _attributes(a: Any, b: Any, where: str, skip: set[str]) -> list[str]:
    va, vb = ({k: v for k, v in vars(x).items() if k not in skip} for x in (a, b))
    if set(va) != set(vb):
        return [f"{where}: attributes {sorted(set(va) ^ set(vb))}"]
    return [d for k in vb for d in differences(va[k], vb[k], f"{where}.{k}")]


def both_ways(path: Path) -> tuple[Any, list[str]]:
    """(part10's dataset or None, its differences from pydicom's, with position and damage), read as the
    file ingest reads a file; then as the listener reads the same bytes received, which must agree too."""
    found = in_memory(path.read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Tracked(str(path)) as fh:
            ours = part10.read(fh, DEFER_SIZE)
            if ours is None:
                assert fh.tell() == 0  # declined: the file untouched for pydicom
                return None, []
            our_end, our_damage = fh.tell(), integrity.damage(fh, ours)
            assert ours.buffer is fh
        with Tracked(str(path)) as fh:
            theirs = pydicom.dcmread(fh, stop_before_pixels=True, defer_size=DEFER_SIZE)
            their_end, their_damage = fh.tell(), integrity.damage(fh, theirs)
    found += differences(ours, theirs)
    if our_end != their_end:
        found.append(f"left at {our_end}, pydicom at {their_end}")
    if our_damage != their_damage:
        found.append(f"damage {our_damage} != {their_damage}")
    return ours, found


def in_memory(data: bytes) -> list[str]:
    """part10 against pydicom on a BytesIO (a received C-STORE dataset: all of it in memory)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = part10.read(io.BytesIO(data), DEFER_SIZE)
        theirs = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, defer_size=DEFER_SIZE)
    return [] if ours is None else [f"in memory: {d}" for d in differences(ours, theirs)]


def _part10_files(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.is_file() and p.stat().st_size > 132 and p.open("rb").read(132)[128:] == b"DICM"]


def test_part10_builds_pydicoms_objects_for_pydicoms_test_files() -> None:
    files = _part10_files([Path(p) for p in get_testdata_files()])
    read = 0
    for path in files:
        ours, found = both_ways(path)
        assert not found, f"{path.name}: {found[:5]}"
        read += ours is not None
    assert len(files) > 100 and read > 0.6 * len(files)  # most are the common case it exists for


def test_an_implicit_vr_dataset_after_its_explicit_file_meta_is_read_here_too() -> None:
    """The file meta's end is the first element outside group 2, whatever its bytes say as a VR: pydicom
    rewinds to it. Implicit VR Little Endian files (a tenth of the synthetic archive, many real ones) were
    declined there and parsed twice as slowly by pydicom; now only a cut one is."""
    read = []
    for path in _part10_files([Path(p) for p in get_testdata_files()]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
        if meta.get("TransferSyntaxUID") != ImplicitVRLittleEndian:
            continue
        ours, found = both_ways(path)
        assert not found, (path.name, found[:5])
        if ours is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Tracked(str(path)) as fh:
                    assert integrity.damage(fh, pydicom.dcmread(fh, stop_before_pixels=True)), path.name
        else:
            assert ours.is_implicit_VR
            read.append(path.name)
    assert len(read) >= 8 and "MR_small_implicit.dcm" in read, read


def test_part10_builds_pydicoms_objects_for_the_corpus() -> None:
    corpus = SHARED / "corpus"
    if not corpus.is_dir():
        pytest.skip(f"needs {corpus} (../shared is only in the project's CI and workspaces)")
    files = _part10_files(sorted(corpus.rglob("*")))
    read = 0
    for path in files:
        ours, found = both_ways(path)
        assert not found, f"{path}: {found[:5]}"
        read += ours is not None
    assert read > 0.6 * len(files)


@pytest.mark.parametrize("cut", [200, 700, 1500, -3])
def test_a_cut_file_is_left_to_pydicom(tmp_path: Path, cut: int) -> None:
    whole = Path(get_testdata_files("CT_small.dcm")[0]).read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(whole[:cut] if cut > 0 else whole[:len(whole) - 5_000 + cut])
    ours, found = both_ways(path)
    assert not found
    if cut > 0:
        assert ours is None  # the headers are cut: pydicom's short reads make the damage report


def _convert_sequences(ds: Dataset, convert: Any, out: list[str]) -> None:
    """Convert every sequence of `ds`, and of its items, with `convert(ds, tag)`; failures noted by type."""
    for tag in list(ds._dict):
        elem = ds._dict[tag]
        if elem.VR != "SQ":
            continue
        try:
            elem = convert(ds, tag)
        except Exception as exc:  # noqa: BLE001  (both ways must fail alike)
            out.append(f"{tag:08X}: {type(exc).__name__}")
            continue
        for item in elem.value if elem.VR == "SQ" else ():
            _convert_sequences(item, convert, out)


def sequences_both_ways(path: Path) -> tuple[int, list[str]]:
    """(how many raw sequences sequence_element converted itself, the differences from pydicom's own
    conversion once every sequence of the file is converted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = (pydicom.dcmread(path, stop_before_pixels=True, defer_size=DEFER_SIZE) for _ in range(2))
        walked: list[str] = []

        def ours_counted(ds: Dataset, tag: int) -> Any:
            raw = ds._dict[tag]
            elem = part10.sequence_element(ds, tag)
            walked.append("") if isinstance(raw, RawDataElement) and raw.value is not None else None
            return elem

        our_failures: list[str] = []
        their_failures: list[str] = []
        _convert_sequences(ours, ours_counted, our_failures)
        _convert_sequences(theirs, lambda ds, tag: ds[tag], their_failures)
    found = differences(ours, theirs)
    if our_failures != their_failures:
        found.append(f"failures {our_failures} != {their_failures}")
    return len(walked), found


def test_sequence_element_converts_as_pydicom_converts() -> None:
    files = _part10_files([Path(p) for p in get_testdata_files()])
    corpus = SHARED / "corpus"
    files += _part10_files(sorted(corpus.rglob("*"))) if corpus.is_dir() else []
    converted = 0
    for path in files:
        n, found = sequences_both_ways(path)
        assert not found, f"{path}: {found[:5]}"
        converted += n
    assert converted > 20  # defined-length sequences (dcmtk writes them) are common in these files
