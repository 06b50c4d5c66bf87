"""integrity.Tracked parses from memory, yet reports a cut file exactly as reading the file did.

Real files (pydicom's: native and encapsulated Pixel Data, a waveform whose large sequence is deferred
and read again later, big endian, no file meta) are cut at many places and each cut copy goes through
the worker's `process_file` read by the buffered file reader Tracked replaced (kept here as the oracle)
and by Tracked: with its defaults, and with a memory window small enough that reads extend it, go past
it to the file, and seek beyond it. Every outcome (status, reason, damage, records) must be the oracle's.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicom_graph.loader.dataset import part10
from dicom_graph.loader.ingest import integrity, worker
from dicom_graph.loader.ingest.sources import DEFER_SIZE, SourceFile
from dicom_graph.loader.ingest.worker import FileOutcome, process_file

SOURCES = ("waveform_ecg.dcm", "examples_overlay.dcm", "examples_jpeg2k.dcm", "SC_rgb_jpeg_dcmd.dcm",
           "ExplVR_BigEnd.dcm", "MR_small.dcm")
WINDOWS = {"defaults": {}, "small window": {"PREFIX": 64, "MEMORY_CAP": 1024, "_GAP": 256},
           "no window": {"PREFIX": 16, "MEMORY_CAP": 0, "_GAP": 0}}


class _Buffered(io.BufferedReader):
    """The reader Tracked replaced: a buffered file, noting short reads and seeks past the end."""

    def __init__(self, path: str, _mode: str = "rb") -> None:
        super().__init__(io.FileIO(path, "rb"))
        self.size = os.fstat(self.fileno()).st_size
        self.short: list[tuple[int, int, int]] = []
        self.past_end = False

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if size is not None and size > 0 and len(data) < size:
            self.short.append((self.tell() - len(data), size, len(data)))
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        position = super().seek(offset, whence)
        self.past_end = self.past_end or position > self.size
        return position


def _sources() -> dict[str, bytes]:
    """The files, and MR_small's data set without preamble and file meta (read by forcing the parser)."""
    out = {name: Path(str(get_testdata_file(name))).read_bytes() for name in SOURCES}
    part10 = out["MR_small.dcm"]
    assert part10[128:132] == b"DICM" and part10[132:136] == b"\x02\x00\x00\x00"  # (0002,0000) UL first
    out["MR_small.no-meta"] = part10[144 + struct.unpack("<I", part10[140:144])[0]:]
    return out


def _cuts(tmp_path: Path) -> list[SourceFile]:
    """Each source whole and cut: every ~4 % of it, and finely through its first 3,000 bytes (headers)."""
    files = []
    for name, data in _sources().items():
        ends = sorted({*range(1, len(data), max(len(data) // 25, 1)), *range(120, min(len(data), 3000), 37),
                       len(data) - 1, len(data)})
        for end in ends:
            path = tmp_path / f"{name}.{end}"
            path.write_bytes(data[:end])
            st = path.stat()
            files.append(SourceFile(str(path), st.st_size, st.st_mtime_ns))
    return files


def _outcomes(files: list[SourceFile]) -> list[FileOutcome]:
    return [process_file(f) for f in files]


@pytest.mark.parametrize("window", list(WINDOWS))
def test_cut_files_are_reported_as_the_buffered_reader_reported_them(window: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch):
    worker.quiet()
    files = _cuts(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(worker, "Tracked", _Buffered)
        expected = _outcomes(files)
    for name, value in WINDOWS[window].items():
        monkeypatch.setattr(integrity, name, value)
    got = _outcomes(files)
    for f, want, have in zip(files, expected, got, strict=True):
        assert have == want, f.path
    statuses = {o.status for o in expected}
    assert {"damaged", "rejected", "ingested", "recovered"} <= statuses, statuses  # the cuts reach each case
    assert any(o.error_class == "Truncated" and "Pixel Data" in (o.reason or "") for o in expected)


def test_a_whole_header_only_file_leaves_damage_nothing_to_walk_for(tmp_path: Path) -> None:
    """The look past the headers for Pixel Data meets the end of a whole header-only file: no element, so
    no short read is noted; one left there made damage() walk every element of every such file."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    del ds.PixelData
    path = tmp_path / "header-only.dcm"
    ds.save_as(path)
    with integrity.Tracked(str(path)) as fh:
        read = part10.read(fh, DEFER_SIZE)
        assert read is not None
        assert integrity.pixel_data_after(fh, read) is None
        assert fh.short == [] and not fh.past_end
        assert integrity.damage(fh, read) == []
