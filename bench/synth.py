#!/usr/bin/env python3
"""Seeded, deterministic generator of a realistic synthetic DICOM archive.

Header-only DICOM Part 10 files (no Pixel Data) for ingest benchmarks at
archive scale (100k .. 1M files)::

    python bench/synth.py OUT_DIR --instances 100000 [--seed 0] [--workers N]

or from Python::

    from bench.synth import generate
    info = generate(Path("out"), instances=10_000, seed=0, workers=2)

Layout: ``OUT_DIR/<patient>/<study>/<series>/<n>.dcm`` (about 5 % of the files
have no extension, as in real archives), one MPPS document per study as DICOM
JSON (PS3.18 F.2) at ``OUT_DIR/<patient>/<study>/mpps.json`` and the exact
counts in ``OUT_DIR/SYNTH.json``.

Content: CT / MR / PT / CR / US images from a handful of vendors (vendor
private tags, equipment attributes, acquisition parameters, image plane and
image pixel description without the pixels), plus derived objects pointing at
them: SEG, Comprehensive SR, KOS, GSPS (PR), RTSTRUCT.  Patients use
ASCII, ISO_IR 100 (Latin-1), ISO_IR 192 (UTF-8: Japanese, Greek, Arabic,
Cyrillic, Chinese) and ISO 2022 IR 87 (Japanese) character sets.  About 8 % of
the image series are Implicit VR Little Endian, the rest Explicit VR LE.

Speed: every (SOP class, vendor, transfer syntax) template is encoded to
bytes once ("compiled"); per series the series-level values are spliced in,
per file only ~6 instance-level elements (SOP Instance UID, Instance Number,
position, times) are encoded by a tiny encoder and joined with the
pre-encoded chunks.  Sequences are written with undefined length so that no
lengths need patching.  Determinism: no clock, UIDs are ``2.25.<uuid-int>``
from a BLAKE2b hash of (seed, path), randomness from ``random.Random`` seeded
with strings; output does not depend on ``--workers``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import sys
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from pydicom import _private_dict
from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.valuerep import PersonName

GENERATOR_VERSION = 1
SYNTH_JSON = "SYNTH.json"
PARTIAL_MARKER = "SYNTH.partial"

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
MPPS_CLASS = "1.2.840.10008.3.1.2.3.3"
STUDY_COMPONENT_CLASS = "1.2.840.10008.3.1.2.3.1"  # Detached Study Mgmt (RT ref)

SOP = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "SEG": "1.2.840.10008.5.1.4.1.1.66.4",
    "SR": "1.2.840.10008.5.1.4.1.1.88.33",
    "KOS": "1.2.840.10008.5.1.4.1.1.88.59",
    "PR": "1.2.840.10008.5.1.4.1.1.11.1",
    "RTSTRUCT": "1.2.840.10008.5.1.4.1.1.481.3",
}
SOP_NAMES = {
    SOP["CT"]: "CT Image Storage",
    SOP["MR"]: "MR Image Storage",
    SOP["PT"]: "Positron Emission Tomography Image Storage",
    SOP["CR"]: "Computed Radiography Image Storage",
    SOP["US"]: "Ultrasound Image Storage",
    SOP["SEG"]: "Segmentation Storage",
    SOP["SR"]: "Comprehensive SR Storage",
    SOP["KOS"]: "Key Object Selection Document Storage",
    SOP["PR"]: "Grayscale Softcopy Presentation State Storage",
    SOP["RTSTRUCT"]: "RT Structure Set Storage",
}
MODALITY = {"CT": "CT", "MR": "MR", "PT": "PT", "CR": "CR", "US": "US", "SEG": "SEG",
            "SR": "SR", "KOS": "KO", "PR": "PR", "RTSTRUCT": "RTSTRUCT"}
IMAGE_KINDS = ("CT", "MR", "PT", "CR", "US")

# --------------------------------------------------------------------------
# Minimal little-endian DICOM encoder
# --------------------------------------------------------------------------

_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"})
_TEXT_VRS = frozenset({"SH", "LO", "ST", "LT", "UT", "UC", "PN"})
_BIN_VRS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
_NUL_PAD = frozenset({"UI", "OB", "OW", "UN"})
_CODECS = {"ascii": "ascii", "latin1": "latin_1", "utf8": "utf_8", "iso2022": "ascii"}
_ISO2022_ENCS = convert_encodings(["", "ISO 2022 IR 87"])
CHARSET_VALUE = {"ascii": None, "latin1": "ISO_IR 100", "utf8": "ISO_IR 192",
                 "iso2022": ["", "ISO 2022 IR 87"]}

_pack_hh2sh = struct.Struct("<HH2sH").pack
_pack_hh2shi = struct.Struct("<HH2sHI").pack
_pack_hhi = struct.Struct("<HHI").pack
ITEM_START = _pack_hhi(0xFFFE, 0xE000, 0xFFFFFFFF)
ITEM_END = _pack_hhi(0xFFFE, 0xE00D, 0)
SEQ_END = _pack_hhi(0xFFFE, 0xE0DD, 0)


class Slot:
    """Placeholder for a value supplied per series or per instance."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


_KW_CACHE: dict[str, tuple[int, str]] = {}


class Tpl(dict):
    """tag -> (VR, value); value is a constant, a Slot, or (SQ) a list of Tpl."""

    def __init__(self, **kw):
        super().__init__()
        for k, v in kw.items():
            self.set(k, v)

    def set(self, keyword: str, value, vr: str | None = None) -> "Tpl":
        entry = _KW_CACHE.get(keyword)
        if entry is None:
            tag = tag_for_keyword(keyword)
            if tag is None:
                raise KeyError(keyword)
            dvr = dictionary_VR(tag)
            entry = _KW_CACHE[keyword] = (tag, dvr.split(" or ")[0])
        self[entry[0]] = (vr or entry[1], value)
        return self

    def priv(self, tag: int, vr: str, value) -> "Tpl":
        self[tag] = (vr, value)
        return self

    def __setattr__(self, keyword, value):  # t.PatientName = Slot("x")
        self.set(keyword, value)


def S(name: str) -> Slot:
    return Slot(name)


def _value_bytes(vr: str, v, codec: str) -> bytes:
    if isinstance(v, bytes):
        b = v
    elif vr == "AT":
        vals = v if isinstance(v, (list, tuple)) else (v,)
        b = b"".join(struct.pack("<HH", x >> 16, x & 0xFFFF) for x in vals)
    elif vr in _BIN_VRS:
        vals = v if isinstance(v, (list, tuple)) else (v,)
        conv = float if vr in ("FL", "FD") else int
        b = struct.pack("<%d%s" % (len(vals), _BIN_VRS[vr]), *[conv(x) for x in vals])
    else:
        if isinstance(v, (list, tuple)):
            v = "\\".join(str(x) for x in v)
        elif not isinstance(v, str):
            v = str(v)
        if vr == "PN" and codec == "iso2022":
            b = PersonName(v).encode(_ISO2022_ENCS)
        elif vr in _TEXT_VRS:
            b = v.encode(_CODECS[codec])
        else:
            b = v.encode("ascii")
    if len(b) & 1:
        b += b"\x00" if vr in _NUL_PAD else b" "
    return b


def _element(tag: int, vr: str, vb: bytes, implicit: bool) -> bytes:
    if implicit:
        return _pack_hhi(tag >> 16, tag & 0xFFFF, len(vb)) + vb
    if vr in _LONG_VRS:
        return _pack_hh2shi(tag >> 16, tag & 0xFFFF, vr.encode(), 0, len(vb)) + vb
    return _pack_hh2sh(tag >> 16, tag & 0xFFFF, vr.encode(), len(vb)) + vb


def _sq_head(tag: int, implicit: bool) -> bytes:
    if implicit:
        return _pack_hhi(tag >> 16, tag & 0xFFFF, 0xFFFFFFFF)
    return _pack_hh2shi(tag >> 16, tag & 0xFFFF, b"SQ", 0, 0xFFFFFFFF)


def _encode_element(tag: int, vr: str, v, implicit: bool, codec: str) -> bytes:
    if vr == "SQ":
        parts = [_sq_head(tag, implicit)]
        for item in v:
            parts.append(ITEM_START)
            parts.append(encode_dataset(item, implicit, codec))
            parts.append(ITEM_END)
        parts.append(SEQ_END)
        return b"".join(parts)
    return _element(tag, vr, _value_bytes(vr, v, codec), implicit)


def encode_dataset(t: dict, implicit: bool, codec: str) -> bytes:
    out = []
    for tag in sorted(t):
        vr, v = t[tag]
        if v is None:
            continue
        if isinstance(v, Slot):
            raise ValueError(f"unresolved slot {v.name}")
        out.append(_encode_element(tag, vr, v, implicit, codec))
    return b"".join(out)


def compile_template(t: Tpl, implicit: bool) -> list:
    """Encode the constant parts; Slots become (name, tag, VR) tuples."""
    raw: list = []

    def walk(d):
        for tag in sorted(d):
            vr, v = d[tag]
            if v is None:
                continue
            if isinstance(v, Slot):
                raw.append((v.name, tag, vr))
            elif vr == "SQ":
                raw.append(_sq_head(tag, implicit))
                for item in v:
                    raw.append(ITEM_START)
                    walk(item)
                    raw.append(ITEM_END)
                raw.append(SEQ_END)
            else:
                raw.append(_element(tag, vr, _value_bytes(vr, v, "ascii"), implicit))

    walk(t)
    return _merge(raw)


def _merge(parts: list) -> list:
    out, buf = [], []
    for p in parts:
        if p.__class__ is bytes:
            buf.append(p)
        else:
            if buf:
                out.append(b"".join(buf))
                buf = []
            out.append(p)
    if buf:
        out.append(b"".join(buf))
    return out


def fill(parts: list, values: dict, implicit: bool, codec: str) -> bytes:
    """Final, per-file step: every remaining slot must be in `values`."""
    out = []
    for p in parts:
        if p.__class__ is bytes:
            out.append(p)
        else:
            v = values[p[0]]
            if v is not None:
                if p[2] == "SQ":
                    out.append(_encode_element(p[1], "SQ", v, implicit, codec))
                else:
                    out.append(_element(p[1], p[2], _value_bytes(p[2], v, codec), implicit))
    return b"".join(out)


def resolve(parts: list, values: dict, implicit: bool, codec: str) -> list:
    """Splice the slots found in `values` (None = omit the element)."""
    out = []
    for p in parts:
        if p.__class__ is bytes:
            out.append(p)
        elif p[0] in values:
            v = values[p[0]]
            if v is not None:
                out.append(_encode_element(p[1], p[2], v, implicit, codec))
        else:
            out.append(p)
    return _merge(out)


# --------------------------------------------------------------------------
# Deterministic helpers
# --------------------------------------------------------------------------


def make_uid(*parts) -> str:
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    return "2.25.%d" % uuid.UUID(bytes=h, version=4).int


def fds(x: float) -> str:
    """Format a float as a DS (<= 16 chars)."""
    s = "%.6g" % x
    if s == "-0":
        s = "0"
    return s


def _da(d: date) -> str:
    return d.strftime("%Y%m%d")


def _tm(secs: float) -> str:
    secs = secs % 86400
    h, rem = divmod(int(secs), 3600)
    m, s = divmod(rem, 60)
    frac = int(round((secs - int(secs)) * 1000))
    return "%02d%02d%02d.%03d" % (h, m, s, min(frac, 999))


# --------------------------------------------------------------------------
# Equipment, names, private tags
# --------------------------------------------------------------------------

# key, vendor-family, Manufacturer, Model, modalities, SoftwareVersions,
# ImplementationClassUID, ImplementationVersionName
DEVICES = [
    ("ge_revo", "GE", "GE MEDICAL SYSTEMS", "Revolution CT", ("CT",), "revo_ct_22.1.sp3", "1.2.840.113619.6.374", "REVO_CT_22"),
    ("ge_vct", "GE", "GE MEDICAL SYSTEMS", "LightSpeed VCT", ("CT",), "07MW18.4", "1.2.840.113619.6.94", "VCT_07MW18"),
    ("sie_force", "SIEMENS", "SIEMENS", "SOMATOM Force", ("CT",), "syngo CT VB20A", "1.3.12.2.1107.5.1.4", "SIEMENS_S7VB20A"),
    ("phi_ict", "PHILIPS", "Philips", "iCT 256", ("CT",), "4.1.6.37005", "1.3.46.670589.33.1.4.1", "PHILIPS_ICT41"),
    ("can_one", "CANON", "CANON_MEC", "Aquilion ONE", ("CT",), "V10.4ER003", "1.2.392.200036.9116.2.6.1.48", "TM_CT_V10"),
    ("ge_premier", "GE", "GE MEDICAL SYSTEMS", "SIGNA Premier", ("MR",), "30\\LX\\MR Software release:RX30.0_R01", "1.2.840.113619.6.353", "SIGNA_RX30"),
    ("sie_prisma", "SIEMENS", "SIEMENS", "Prisma", ("MR",), "syngo MR XA30", "1.3.12.2.1107.5.2", "MR_XA30"),
    ("sie_skyra", "SIEMENS", "SIEMENS", "Skyra", ("MR",), "syngo MR E11", "1.3.12.2.1107.5.2", "MR_VE11"),
    ("phi_ingenia", "PHILIPS", "Philips Medical Systems", "Ingenia", ("MR",), "5.7.1\\5.7.1.2", "1.3.46.670589.11.0.0.51.4.57.1", "Philips MR 57.1"),
    ("ge_dmi", "GE", "GE MEDICAL SYSTEMS", "Discovery MI", ("PT", "CT"), "pet_coreload.47", "1.2.840.113619.6.336", "PET_DMI_47"),
    ("sie_vision", "SIEMENS", "SIEMENS", "Biograph Vision 600", ("PT", "CT"), "VG80B", "1.3.12.2.1107.5.1.4", "SIEMENS_VG80B"),
    ("fuji_profect", "FUJI", "FUJIFILM Corporation", "FCR PROFECT CS", ("CR",), "A09-02", "1.2.392.200036.9125.1", "FUJI_A09"),
    ("agfa_cr85", "AGFA", "Agfa", "CR 85-X", ("CR",), "NX 23.0.8000", "1.3.51.0.1.3", "AGFA_NX23"),
    ("ge_logiq", "GE", "GE Healthcare", "LOGIQ E10", ("US",), "R3.0.1", "1.2.840.113619.6.309", "LOGIQE10_R3"),
    ("phi_epiq", "PHILIPS", "Philips Ultrasound", "EPIQ 7G", ("US",), "5.0.5.1234", "1.2.840.113543.6.6.4.9", "EPIQ_5.0"),
    ("sie_sequoia", "SIEMENS", "SIEMENS", "ACUSON Sequoia", ("US",), "VB20", "1.3.12.2.1107.5.5", "SEQUOIA_VB20"),
    ("sie_via", "SIEMENS", "Siemens Healthineers", "syngo.via", ("SEG", "SR", "PR"), "VB60A", "1.3.12.2.1107.5.8.15", "SYNGO_VIA_VB60"),
    ("ge_aw", "GE", "GE Healthcare", "AW Server", ("SEG", "PR", "SR"), "3.2 Ext. 4.6", "1.2.840.113619.6.416", "AW_SERVER_32"),
    ("sectra", "SECTRA", "Sectra", "IDS7", ("KOS", "PR", "SR"), "24.2.14.5000", "1.2.752.24.3.3.45", "SECTRA_IDS7_24"),
    ("nuance", "NUANCE", "Nuance", "PowerScribe 360", ("SR",), "4.0 SP2", "1.2.840.113711.999.1", "PS360_40"),
    ("varian", "VARIAN", "Varian Medical Systems", "ARIA RadOnc", ("RTSTRUCT",), "16.1.3", "1.2.246.352.70.2.1.160.3", "ARIA_16"),
    ("raysearch", "RAYSEARCH", "RaySearch Laboratories", "RayStation", ("RTSTRUCT",), "12.0.100.0", "1.2.752.243.1.1.20230309", "RAYSTATION_12"),
]
DEV = {d[0]: d for d in DEVICES}

# (vendor family, SOP kind) -> [(private creator, group)]
PRIVATE_BLOCKS = {
    ("GE", "CT"): [("GEMS_IDEN_01", 0x0009), ("GEMS_ACQU_01", 0x0019), ("GEMS_RELA_01", 0x0021), ("GEMS_PARM_01", 0x0043), ("GEMS_HELIOS_01", 0x0045)],
    ("GE", "MR"): [("GEMS_IDEN_01", 0x0009), ("GEMS_ACQU_01", 0x0019), ("GEMS_RELA_01", 0x0021), ("GEMS_SERS_01", 0x0025), ("GEMS_IMAG_01", 0x0027), ("GEMS_PARM_01", 0x0043)],
    ("GE", "PT"): [("GEMS_PETD_01", 0x0009), ("GEMS_PETD_01", 0x0011), ("GEMS_PETD_01", 0x0013)],
    ("GE", "US"): [("GEMS_IDEN_01", 0x0009)],
    ("GE", "SEG"): [("GEIIS", 0x0029)],
    ("GE", "PR"): [("GEIIS PACS", 0x0907), ("GEIIS", 0x0029)],
    ("GE", "SR"): [("GEIIS", 0x0029)],
    ("SIEMENS", "CT"): [("SIEMENS CT VA0  COAD", 0x0019), ("SIEMENS CSA HEADER", 0x0029), ("SIEMENS MED", 0x0009)],
    ("SIEMENS", "MR"): [("SIEMENS MR HEADER", 0x0019), ("SIEMENS CSA HEADER", 0x0029), ("SIEMENS MR HEADER", 0x0051)],
    ("SIEMENS", "PT"): [("SIEMENS MED", 0x0009), ("SIEMENS CSA HEADER", 0x0029), ("SIEMENS MED", 0x0055)],
    ("SIEMENS", "US"): [("SIEMENS MED", 0x0019)],
    ("SIEMENS", "SEG"): [("SIEMENS MED", 0x0031), ("SIEMENS CSA HEADER", 0x0029)],
    ("SIEMENS", "SR"): [("SIEMENS MED", 0x0031)],
    ("SIEMENS", "PR"): [("SIEMENS MED", 0x0031), ("SIEMENS MED", 0x0041)],
    ("PHILIPS", "CT"): [("Philips Imaging DD 001", 0x2001)],
    ("PHILIPS", "MR"): [("Philips Imaging DD 001", 0x2001), ("Philips MR Imaging DD 001", 0x2005)],
    ("PHILIPS", "US"): [("Philips US Imaging DD 033", 0x200D)],
    ("CANON", "CT"): [("TOSHIBA_MEC_CT3", 0x7005)],
    ("FUJI", "CR"): [("FDMS 1.0", 0x0009), ("FDMS 1.0", 0x0019), ("FDMS 1.0", 0x0021), ("FDMS 1.0", 0x0025)],
    ("AGFA", "CR"): [("AGFA", 0x0019), ("Agfa ADC NX", 0x0019)],
    ("SECTRA", "KOS"): [("SECTRA_Ident_01", 0x0009), ("SECTRA_ImageInfo_01", 0x0029)],
    ("SECTRA", "PR"): [("SECTRA_Ident_01", 0x0009), ("SECTRA_ImageInfo_01", 0x0029)],
    ("SECTRA", "SR"): [("SECTRA_Ident_01", 0x0009)],
}
# creators unknown to pydicom's private dictionary (used by the derived-object
# producers; always Explicit VR, so the VR travels with the element)
CUSTOM_CREATORS = {
    "GE": ("GEHC_AW_SERVER_01", 0x0073),
    "SIEMENS": ("SIEMENS SYNGO VIA 01", 0x0073),
    "SECTRA": ("SECTRA_Workflow_01", 0x0071),
    "NUANCE": ("NUANCE PS360 01", 0x0071),
    "VARIAN": ("Varian Medical Systems ARIA 01", 0x3273),
    "RAYSEARCH": ("RAYSEARCHLABS 2.0", 0x4001),
}
_CUSTOM_VRS = ("LO", "SH", "CS", "DS", "IS", "DA", "TM", "UI", "LT", "US", "LO", "FD")
_SIMPLE_PRIV_VRS = ("LO", "SH", "CS", "DS", "IS", "US", "SS", "UL", "SL", "FL", "FD", "DA", "TM", "OB", "LT", "UI")


def _private_value(vr: str, rng: random.Random):
    if vr in ("LO", "SH"):
        return rng.choice(["V1.0", "ACQ", "STD", "HELICAL", "1", "AX", "DEFAULT", "NORMAL", "SCAN_B", "0.5", "RECON"])
    if vr == "CS":
        return rng.choice(["IMAGE NUM 4", "YES", "NO", "AXIAL", "PRIMARY"])
    if vr == "DS":
        return fds(rng.uniform(-50, 500))
    if vr == "IS":
        return str(rng.randint(0, 4000))
    if vr in ("US", "UL"):
        return rng.randint(0, 1024)
    if vr in ("SS", "SL"):
        return rng.randint(-512, 512)
    if vr in ("FL", "FD"):
        return round(rng.uniform(0, 100), 3)
    if vr == "DA":
        return "20190101"
    if vr == "TM":
        return "120000"
    if vr == "UI":
        return "1.2.840.113619.2.55.3.%d" % rng.randint(1, 99999)
    if vr == "OB":
        n = rng.choice([8, 16, 32, 64, 128])
        return b"SV10\x04\x03\x02\x01" + bytes(rng.randrange(256) for _ in range(n))
    return "TEXT"


def add_private(t: Tpl, family: str, kind: str, budget: int, rng: random.Random) -> int:
    """Add vendor private blocks (VRs from pydicom's private dictionary so
    that Implicit VR files read back with the right VR)."""
    blocks = list(PRIVATE_BLOCKS.get((family, kind), []))
    if kind not in IMAGE_KINDS and family in CUSTOM_CREATORS:
        blocks.append(CUSTOM_CREATORS[family])
    if not blocks or budget <= 1:
        return 0
    added = 0
    used_blocks: dict[int, int] = {}
    for bi, (creator, group) in enumerate(blocks):
        per_block = max(1, (budget - added) // (len(blocks) - bi))
        entries = []
        if creator not in _private_dict.private_dictionaries:
            entries = [(low, _CUSTOM_VRS[low % len(_CUSTOM_VRS)]) for low in range(1, 1 + budget)]
        for key, (vr, vm, _name, _r) in _private_dict.private_dictionaries.get(creator, {}).items():
            if key[4:6] == "xx" and int(key[:4], 16) == group and vm == "1" and vr in _SIMPLE_PRIV_VRS:
                entries.append((int(key[6:8], 16), vr))
        entries.sort()
        if not entries:
            continue
        block = 0x10 + used_blocks.get(group, 0)
        used_blocks[group] = used_blocks.get(group, 0) + 1
        t.priv((group << 16) | block, "LO", creator)
        added += 1
        for low, vr in entries[: max(1, per_block - 1)]:
            t.priv((group << 16) | (block << 8) | low, vr, _private_value(vr, rng))
            added += 1
    return added


LATIN1_NAMES = [
    ("Müller", "Jürgen"), ("García", "José"), ("Lefèvre", "François"), ("Ødegård", "Åse"),
    ("Núñez", "Iñigo"), ("Schröder", "Björn"), ("Dupré", "Hélène"), ("Gonçalves", "João"),
    ("Ångström", "Märta"), ("Côté", "Zoë"), ("Fernández", "María"), ("Weiß", "Günther"),
]
UTF8_NAMES = [
    "山田^太郎", "佐藤^花子", "Παπαδόπουλος^Γιώργος", "Οικονόμου^Ελένη",
    "محمد^أحمد", "الحسن^فاطمة", "Иванов^Пётр", "王^小明", "Nguyễn^Thị Hoa", "Øyvind^Kjærstad",
]
ISO2022_NAMES = [
    "Yamada^Tarou=山田^太郎=やまだ^たろう", "Sato^Hanako=佐藤^花子=さとう^はなこ",
    "Tanaka^Ichiro=田中^一郎=たなか^いちろう", "Suzuki^Yuki=鈴木^由紀=すずき^ゆき",
]
ASCII_FAMILY = ["SMITH", "JONES", "BROWN", "TAYLOR", "WILSON", "DAVIES", "EVANS", "THOMAS", "JOHNSON",
                "ROBERTS", "WALKER", "WRIGHT", "ROBINSON", "THOMPSON", "WHITE", "HUGHES", "EDWARDS",
                "GREEN", "HALL", "WOOD", "HARRIS", "LEWIS", "MARTIN", "JACKSON", "CLARKE", "CLARK",
                "TURNER", "HILL", "SCOTT", "COOPER", "MORRIS", "WARD", "MOORE", "KING", "WATSON"]
ASCII_GIVEN_M = ["JOHN", "DAVID", "MICHAEL", "JAMES", "ROBERT", "PETER", "PAUL", "MARK", "ANDREW", "RICHARD"]
ASCII_GIVEN_F = ["MARY", "SUSAN", "LINDA", "ELIZABETH", "SARAH", "KAREN", "ANNA", "EMMA", "LAURA", "JANE"]
PHYSICIANS = ["HOUSE^GREGORY^^DR", "GREY^MEREDITH^^DR", "KILDARE^JAMES^^DR", "QUINN^MICHAELA^^DR",
              "ROSS^DOUG^^DR", "WELBY^MARCUS^^DR", "CARTER^JOHN^^DR", "LEWIS^SUSAN^^DR", "BAILEY^MIRANDA^^DR"]
LATIN1_PHYSICIANS = ["Lefèvre^Amélie^^Dr", "Müller^Käthe^^Dr", "Peña^Sebastián^^Dr"]
OPERATORS = ["RT^ANNA", "RT^BOB", "TECH1", "TECH2", "JDOE", "MRT^KIM", "CT^LEE", "SONO^PAT"]
SITES = [
    ("ST MARYS GENERAL HOSPITAL", "12 Harbour Rd, Springfield", "RADIOLOGY", "+0000"),
    ("KLINIKUM NORD", "Nordring 5, 20095 Hamburg", "Radiologie", "+0100"),
    ("HOPITAL SAINT-LOUIS", "1 Av Claude Vellefaux, Paris", "IMAGERIE MEDICALE", "+0100"),
    ("UNIVERSITY MEDICAL CENTER", "300 Campus Dr, Riverside", "DIAGNOSTIC IMAGING", "-0500"),
]


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


def _common(t: Tpl, kind: str):
    """Patient / study / series / equipment / SOP common (all SOP classes)."""
    t.SpecificCharacterSet = S("charset")
    t.InstanceCreationDate = S("content_date")
    t.InstanceCreationTime = S("creation_time")
    t.InstanceCreatorUID = S("creator_uid")
    t.SOPClassUID = SOP[kind]
    t.SOPInstanceUID = S("sop_uid")
    t.StudyDate = S("study_date")
    t.SeriesDate = S("series_date")
    t.ContentDate = S("content_date")
    t.StudyTime = S("study_time")
    t.SeriesTime = S("series_time")
    t.ContentTime = S("content_time")
    t.AccessionNumber = S("accession")
    t.IssuerOfAccessionNumberSequence = [Tpl(LocalNamespaceEntityID=S("site_ns"))]
    t.Modality = MODALITY[kind]
    t.Manufacturer = S("manufacturer")
    t.InstitutionName = S("institution")
    t.InstitutionAddress = S("institution_address")
    t.ReferringPhysicianName = S("referring")
    t.TimezoneOffsetFromUTC = S("tz")
    t.StationName = S("station")
    t.StudyDescription = S("study_desc")
    t.ProcedureCodeSequence = [Tpl(CodeValue=S("proc_code"), CodingSchemeDesignator="L",
                                   CodeMeaning=S("study_desc"))]
    t.SeriesDescription = S("series_desc")
    t.InstitutionalDepartmentName = S("department")
    t.PhysiciansOfRecord = S("referring")
    t.OperatorsName = S("operator")
    t.ManufacturerModelName = S("model")
    t.PatientName = S("patient_name")
    t.PatientID = S("patient_id")
    t.IssuerOfPatientID = S("site_ns")
    t.TypeOfPatientID = "TEXT"
    t.PatientBirthDate = S("birth_date")
    t.PatientSex = S("sex")
    t.OtherPatientIDsSequence = S("other_ids")
    t.PatientAge = S("age")
    t.PatientSize = S("height")
    t.PatientWeight = S("weight")
    t.PatientIdentityRemoved = "NO"
    t.MedicalAlerts = S("alerts")
    t.Allergies = S("allergies")
    t.EthnicGroup = S("ethnic")
    t.AdditionalPatientHistory = S("history")
    t.PregnancyStatus = S("pregnancy")
    t.PatientComments = S("patient_comments")
    t.AdmittingDiagnosesDescription = S("admitting_dx")
    t.ReasonForStudy = S("reason")
    t.DeviceSerialNumber = S("serial")
    t.SoftwareVersions = S("software")
    t.StudyInstanceUID = S("study_uid")
    t.SeriesInstanceUID = S("series_uid")
    t.StudyID = S("study_id")
    t.SeriesNumber = S("series_number")
    t.InstanceNumber = S("instance_number")
    t.RequestingPhysician = S("referring")
    t.RequestedProcedureDescription = S("study_desc")
    t.RequestedProcedureCodeSequence = [Tpl(CodeValue=S("proc_code"), CodingSchemeDesignator="L",
                                            CodeMeaning=S("study_desc"))]
    t.RequestAttributesSequence = [Tpl(RequestedProcedureID=S("req_proc_id"),
                                       ScheduledProcedureStepID=S("sps_id"),
                                       ScheduledProcedureStepDescription=S("study_desc"),
                                       AccessionNumber=S("accession"),
                                       StudyInstanceUID=S("study_uid"))]


def _acq_common(t: Tpl, kind: str):
    """Image acquisition (image SOP classes): equipment + general image."""
    t.ImageType = S("image_type")
    t.AcquisitionDate = S("series_date")
    t.AcquisitionTime = S("acq_time")
    t.ReferencedPerformedProcedureStepSequence = S("pps_ref")
    t.ReferencedImageSequence = S("ref_localizer")
    t.NameOfPhysiciansReadingStudy = S("reader")
    t.PerformingPhysicianName = S("operator")
    t.BodyPartExamined = S("body_part")
    t.ProtocolName = S("protocol")
    t.DateOfLastCalibration = S("calib_date")
    t.TimeOfLastCalibration = "073000"
    t.PatientPosition = S("patient_position")
    t.AcquisitionNumber = S("acq_number")
    t.PerformedProcedureStepStartDate = S("study_date")
    t.PerformedProcedureStepStartTime = S("study_time")
    t.PerformedProcedureStepID = S("pps_id")
    t.PerformedProcedureStepDescription = S("study_desc")
    t.PerformedProtocolCodeSequence = [Tpl(CodeValue=S("proc_code"), CodingSchemeDesignator="L",
                                           CodeMeaning=S("protocol"))]
    t.LossyImageCompression = "00"
    t.BurnedInAnnotation = "NO"
    t.SamplesPerPixel = 1
    t.PhotometricInterpretation = "MONOCHROME2"
    t.Rows = S("rows")
    t.Columns = S("cols")
    t.BitsAllocated = 16
    t.BitsStored = 12
    t.HighBit = 11
    t.PixelRepresentation = 0
    t.AnatomicRegionSequence = [Tpl(CodeValue=S("region_code"), CodingSchemeDesignator="SCT",
                                    CodeMeaning=S("body_part"))]


def _plane(t: Tpl):
    t.ImagePositionPatient = S("ipp")
    t.ImageOrientationPatient = S("iop")
    t.FrameOfReferenceUID = S("for_uid")
    t.PositionReferenceIndicator = ""
    t.SliceLocation = S("slice_location")
    t.PixelSpacing = S("pixel_spacing")
    t.SliceThickness = S("slice_thickness")


def build_template(kind: str, family: str) -> Tpl:
    rng = random.Random(f"template:{kind}:{family}")
    t = Tpl()
    _common(t, kind)
    if kind in IMAGE_KINDS:
        _acq_common(t, kind)
    if kind == "CT":
        _plane(t)
        t.ScanOptions = "HELICAL MODE"
        t.KVP = S("kvp")
        t.DataCollectionDiameter = "500"
        t.ReconstructionDiameter = S("recon_diam")
        t.DistanceSourceToDetector = "949.075"
        t.DistanceSourceToPatient = "541"
        t.GantryDetectorTilt = "0"
        t.TableHeight = S("table_height")
        t.RotationDirection = "CW"
        t.ExposureTime = S("exposure_time")
        t.XRayTubeCurrent = S("tube_current")
        t.Exposure = S("exposure")
        t.FilterType = "BODY FILTER"
        t.GeneratorPower = "58000"
        t.FocalSpots = "1.2"
        t.ConvolutionKernel = S("kernel")
        t.RevolutionTime = "0.5"
        t.SingleCollimationWidth = "0.625"
        t.TotalCollimationWidth = "40"
        t.TableSpeed = "78.75"
        t.TableFeedPerRotation = "39.375"
        t.SpiralPitchFactor = "0.984375"
        t.DataCollectionCenterPatient = ["0", "-185", "0"]
        t.ReconstructionTargetCenterPatient = ["0", "-185", "0"]
        t.ExposureModulationType = "DOSE MODULATION"
        t.CTDIvol = S("ctdi")
        t.CTDIPhantomTypeCodeSequence = [Tpl(CodeValue="113691", CodingSchemeDesignator="DCM",
                                             CodeMeaning="IEC Body Dosimetry Phantom")]
        t.ContrastBolusAgent = S("contrast")
        t.ContrastBolusRoute = S("contrast_route")
        t.IrradiationEventUID = S("irradiation_uid")
        t.WindowCenter = S("wc")
        t.WindowWidth = S("ww")
        t.RescaleIntercept = "-1024"
        t.RescaleSlope = "1"
        t.RescaleType = "HU"
        t.WindowCenterWidthExplanation = S("wexpl")
    elif kind == "MR":
        _plane(t)
        t.ScanningSequence = S("scanning_sequence")
        t.SequenceVariant = S("sequence_variant")
        t.ScanOptions = S("scan_options")
        t.MRAcquisitionType = S("mr_acq_type")
        t.SequenceName = S("sequence_name")
        t.AngioFlag = "N"
        t.RepetitionTime = S("tr")
        t.EchoTime = S("te")
        t.InversionTime = S("ti")
        t.NumberOfAverages = "1"
        t.ImagingFrequency = S("frequency")
        t.ImagedNucleus = "1H"
        t.EchoNumbers = "1"
        t.MagneticFieldStrength = S("field_strength")
        t.SpacingBetweenSlices = S("spacing")
        t.NumberOfPhaseEncodingSteps = "256"
        t.EchoTrainLength = S("etl")
        t.PercentSampling = "100"
        t.PercentPhaseFieldOfView = "87.5"
        t.PixelBandwidth = S("bandwidth")
        t.TransmitCoilName = "Body"
        t.ReceiveCoilName = S("coil")
        t.AcquisitionMatrix = [0, 320, 256, 0]
        t.InPlanePhaseEncodingDirection = "ROW"
        t.FlipAngle = S("flip")
        t.VariableFlipAngleFlag = "N"
        t.SAR = S("sar")
        t.dBdt = "0"
        t.B1rms = 1.2
        t.InStackPositionNumber = S("instance_number")
        t.WindowCenter = S("wc")
        t.WindowWidth = S("ww")
    elif kind == "PT":
        _plane(t)
        t.Units = "BQML"
        t.CountsSource = "EMISSION"
        t.SeriesType = ["WHOLE BODY", "IMAGE"]
        t.CorrectedImage = ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
        t.DecayCorrection = "START"
        t.ReconstructionMethod = "OSEM 3i21s"
        t.CollimatorType = "NONE"
        t.RandomsCorrectionMethod = "DLYD"
        t.AttenuationCorrectionMethod = "measured,AC CT"
        t.ScatterCorrectionMethod = "Model-based"
        t.DecayFactor = S("decay_factor")
        t.DoseCalibrationFactor = "1"
        t.ScatterFractionFactor = "0.35"
        t.DeadTimeFactor = "1.02"
        t.FrameReferenceTime = S("frame_ref_time")
        t.ActualFrameDuration = 120000
        t.NumberOfSlices = S("n_slices")
        t.NumberOfTimeSlices = 1
        t.ImageIndex = S("instance_number")
        t.AxialAcceptance = "0"
        t.AxialMash = [5, 6]
        t.TransverseMash = "0"
        t.FieldOfViewShape = "CYLINDRICAL RING"
        t.FieldOfViewDimensions = ["700", "261"]
        t.RadiopharmaceuticalInformationSequence = [Tpl(
            RadiopharmaceuticalRoute="Intravenous", Radiopharmaceutical="Fluorodeoxyglucose",
            RadiopharmaceuticalStartTime=S("inject_time"), RadionuclideTotalDose=S("dose"),
            RadionuclideHalfLife="6586.2", RadionuclidePositronFraction="0.9673",
            RadionuclideCodeSequence=[Tpl(CodeValue="C-111A1", CodingSchemeDesignator="SRT",
                                          CodeMeaning="^18^Fluorine")],
            RadiopharmaceuticalCodeSequence=[Tpl(CodeValue="C-B1031", CodingSchemeDesignator="SRT",
                                                 CodeMeaning="Fluorodeoxyglucose F^18^")])]
        t.PatientGantryRelationshipCodeSequence = [Tpl(CodeValue="F-10470", CodingSchemeDesignator="SRT",
                                                       CodeMeaning="headfirst")]
        t.RescaleIntercept = "0"
        t.RescaleSlope = S("rescale_slope")
        t.BitsStored = 16
        t.HighBit = 15
        t.PixelRepresentation = 1
        t.WindowCenter = S("wc")
        t.WindowWidth = S("ww")
    elif kind == "CR":
        t.PatientOrientation = S("patient_orientation")
        t.ViewPosition = S("view")
        t.KVP = S("kvp")
        t.ExposureTime = S("exposure_time")
        t.XRayTubeCurrent = S("tube_current")
        t.Exposure = S("exposure")
        t.ImagerPixelSpacing = ["0.1", "0.1"]
        t.PixelSpacing = ["0.1", "0.1"]
        t.DistanceSourceToDetector = "1800"
        t.PlateType = "ST-VI"
        t.PhosphorType = "BaFBrI"
        t.Sensitivity = S("sensitivity")
        t.RelativeXRayExposure = S("rel_exposure")
        t.ExposureIndex = S("exposure_index")
        t.FilterType = "NONE"
        t.CollimatorShape = "RECTANGULAR"
        t.FocalSpots = "1.0"
        t.Grid = "IN"
        t.AcquisitionDeviceProcessingDescription = S("processing")
        t.AcquisitionDeviceProcessingCode = "1234"
        t.PresentationIntentType = "FOR PRESENTATION"
        t.WindowCenter = "2047"
        t.WindowWidth = "4095"
        t.RescaleIntercept = "0"
        t.RescaleSlope = "1"
        t.RescaleType = "US"
        t.BitsStored = 10
        t.HighBit = 9
        t.PhotometricInterpretation = "MONOCHROME1"
        t.ViewCodeSequence = [Tpl(CodeValue=S("view_code"), CodingSchemeDesignator="SCT",
                                  CodeMeaning=S("view_meaning"))]
    elif kind == "US":
        t.PhotometricInterpretation = "YBR_FULL_422"
        t.SamplesPerPixel = 3
        t.PlanarConfiguration = 0
        t.BitsAllocated = 8
        t.BitsStored = 8
        t.HighBit = 7
        t.TransducerData = S("transducer")
        t.TransducerType = "CURVED LINEAR"
        t.ProcessingFunction = "ABDOMEN"
        t.MechanicalIndex = S("mi")
        t.BoneThermalIndex = "0.4"
        t.SoftTissueThermalIndex = S("tis")
        t.DepthOfScanField = S("depth")
        t.HeartRate = S("heart_rate")
        t.TransducerFrequency = 3500
        t.PatientOrientation = ""
        t.SequenceOfUltrasoundRegions = [Tpl(
            RegionSpatialFormat=1, RegionDataType=1, RegionFlags=2,
            RegionLocationMinX0=S("reg_x0"), RegionLocationMinY0=70, RegionLocationMaxX1=S("reg_x1"),
            RegionLocationMaxY1=580, PhysicalUnitsXDirection=3, PhysicalUnitsYDirection=3,
            PhysicalDeltaX=S("delta"), PhysicalDeltaY=S("delta"), ReferencePixelX0=S("ref_px"),
            ReferencePixelY0=0, TransducerFrequency=3500, PulseRepetitionFrequency=2000)]
    elif kind == "SEG":
        t.ImageType = ["DERIVED", "PRIMARY"]
        t.ReferencedSeriesSequence = S("seg_ref_series")
        t.ReferencedPerformedProcedureStepSequence = None
        t.SeriesDate = S("series_date")
        t.BodyPartExamined = S("body_part")
        t.FrameOfReferenceUID = S("for_uid")
        t.PositionReferenceIndicator = ""
        t.ContentLabel = S("content_label")
        t.ContentDescription = S("content_desc")
        t.ContentCreatorName = S("creator_name")
        t.ContentQualification = "RESEARCH"
        t.SegmentationType = "BINARY"
        t.SamplesPerPixel = 1
        t.PhotometricInterpretation = "MONOCHROME2"
        t.NumberOfFrames = S("n_frames")
        t.Rows = S("rows")
        t.Columns = S("cols")
        t.BitsAllocated = 1
        t.BitsStored = 1
        t.HighBit = 0
        t.PixelRepresentation = 0
        t.LossyImageCompression = "00"
        t.SegmentSequence = S("segments")
        t.DimensionOrganizationSequence = [Tpl(DimensionOrganizationUID=S("dim_uid"))]
        t.DimensionOrganizationType = "3D"
        t.DimensionIndexSequence = [
            Tpl(DimensionOrganizationUID=S("dim_uid"), DimensionIndexPointer=0x0062000B,
                FunctionalGroupPointer=0x0062000A, DimensionDescriptionLabel="ReferencedSegmentNumber"),
            Tpl(DimensionOrganizationUID=S("dim_uid"), DimensionIndexPointer=0x00200032,
                FunctionalGroupPointer=0x00209113, DimensionDescriptionLabel="ImagePositionPatient")]
        t.SharedFunctionalGroupsSequence = [Tpl(
            DerivationImageSequence=[Tpl(
                DerivationCodeSequence=[Tpl(CodeValue="113076", CodingSchemeDesignator="DCM",
                                            CodeMeaning="Segmentation")],
                SourceImageSequence=S("seg_sources"))],
            PixelMeasuresSequence=[Tpl(PixelSpacing=S("pixel_spacing"), SliceThickness=S("slice_thickness"),
                                       SpacingBetweenSlices=S("slice_thickness"))],
            PlaneOrientationSequence=[Tpl(ImageOrientationPatient=S("iop"))])]
        t.PerFrameFunctionalGroupsSequence = S("per_frame")
        t.MaximumFractionalValue = None
        t.InstanceNumber = S("instance_number")
        t.ProtocolName = S("protocol")
        t.ContentCreatorIdentificationCodeSequence = None
    elif kind in ("SR", "KOS"):
        t.ReferencedPerformedProcedureStepSequence = []
        t.ValueType = "CONTAINER"
        t.ConceptNameCodeSequence = S("doc_title")
        t.ContinuityOfContent = "SEPARATE"
        t.ContentTemplateSequence = [Tpl(MappingResource="DCMR", TemplateIdentifier=S("template_id"))]
        t.CurrentRequestedProcedureEvidenceSequence = S("evidence")
        t.ContentSequence = S("content")
        t.ReferencedRequestSequence = [Tpl(StudyInstanceUID=S("study_uid"), AccessionNumber=S("accession"),
                                           RequestedProcedureID=S("req_proc_id"),
                                           RequestedProcedureDescription=S("study_desc"),
                                           RequestedProcedureCodeSequence=[],
                                           PlacerOrderNumberImagingServiceRequest=S("placer"),
                                           FillerOrderNumberImagingServiceRequest=S("accession"))]
        if kind == "SR":
            t.CompletionFlag = "COMPLETE"
            t.VerificationFlag = S("verification")
            t.VerifyingObserverSequence = S("verifier")
            t.PreliminaryFlag = "FINAL"
            t.PerformedProcedureCodeSequence = [Tpl(CodeValue=S("proc_code"), CodingSchemeDesignator="L",
                                                    CodeMeaning=S("study_desc"))]
        else:
            t.PerformedProcedureCodeSequence = []
    elif kind == "PR":
        t.ReferencedSeriesSequence = S("pr_ref_series")
        t.ContentLabel = S("content_label")
        t.ContentDescription = S("content_desc")
        t.PresentationCreationDate = S("content_date")
        t.PresentationCreationTime = S("content_time")
        t.ContentCreatorName = S("creator_name")
        t.PresentationLUTShape = "IDENTITY"
        t.DisplayedAreaSelectionSequence = [Tpl(
            DisplayedAreaTopLeftHandCorner=[1, 1], DisplayedAreaBottomRightHandCorner=S("br_corner"),
            PresentationSizeMode="SCALE TO FIT", PresentationPixelSpacing=S("pixel_spacing"))]
        t.SoftcopyVOILUTSequence = [Tpl(WindowCenter=S("wc"), WindowWidth=S("ww"))]
        t.GraphicAnnotationSequence = [Tpl(
            GraphicLayer="ANNOTATION",
            TextObjectSequence=[Tpl(UnformattedTextValue=S("annotation"),
                                    AnchorPoint=S("anchor"), AnchorPointAnnotationUnits="PIXEL",
                                    AnchorPointVisibility="Y", BoundingBoxAnnotationUnits=None)])]
        t.GraphicLayerSequence = [Tpl(GraphicLayer="ANNOTATION", GraphicLayerOrder="1",
                                      GraphicLayerDescription="Annotations")]
        t.ImageHorizontalFlip = "N"
        t.ImageRotation = 0
        t.ShutterShape = None
    elif kind == "RTSTRUCT":
        t.StructureSetLabel = S("content_label")
        t.StructureSetName = S("content_desc")
        t.StructureSetDate = S("content_date")
        t.StructureSetTime = S("content_time")
        t.ApprovalStatus = "UNAPPROVED"
        t.ReferencedFrameOfReferenceSequence = S("rt_ref_for")
        t.StructureSetROISequence = S("rt_rois")
        t.ROIContourSequence = S("rt_contours")
        t.RTROIObservationsSequence = S("rt_obs")
        t.FrameOfReferenceUID = S("for_uid")
        t.PositionReferenceIndicator = ""
        t.OperatorsName = S("operator")
    # vendor private blocks, sized so that the template has ~100-170 top-level elements
    public = sum(1 for v in t.values() if v[1] is not None)
    target = rng.randint(110, 170) if kind in IMAGE_KINDS else rng.randint(96, 112)
    add_private(t, family, kind, min(195 - public, max(12, target - public)), rng)
    return t


_TEMPLATE_CACHE: dict = {}


def get_program(kind: str, family: str, implicit: bool) -> list:
    key = (kind, family, implicit)
    prog = _TEMPLATE_CACHE.get(key)
    if prog is None:
        prog = _TEMPLATE_CACHE[key] = compile_template(build_template(kind, family), implicit)
    return prog


# --------------------------------------------------------------------------
# Planning (cheap, done in the parent; deterministic)
# --------------------------------------------------------------------------

STUDY_KINDS = [  # kind, weight
    ("CT", 0.30), ("MR", 0.25), ("CR", 0.20), ("US", 0.15), ("PETCT", 0.10),
]
CT_STUDIES = [("CT CHEST W CONTRAST", "CHEST", "51185008"), ("CT ABDOMEN PELVIS", "ABDOMEN", "818981001"),
              ("CT HEAD WO CONTRAST", "HEAD", "69536005"), ("CT CHEST ABDOMEN PELVIS", "CHEST", "51185008")]
MR_STUDIES = [("MR BRAIN W WO CONTRAST", "BRAIN", "12738006"), ("MR KNEE LEFT", "KNEE", "72696002"),
              ("MR LUMBAR SPINE", "LSPINE", "122496007"), ("MR PROSTATE", "PROSTATE", "41216001")]
CR_STUDIES = [("XR CHEST 2 VIEWS", "CHEST", "51185008"), ("XR HAND RIGHT", "HAND", "85562004"),
              ("XR KNEE", "KNEE", "72696002")]
US_STUDIES = [("US ABDOMEN COMPLETE", "ABDOMEN", "818981001"), ("US THYROID", "NECK", "45048000"),
              ("US RENAL", "KIDNEY", "64033007")]
PET_STUDIES = [("PET CT WHOLE BODY FDG", "WHOLEBODY", "38266002")]


def _size(rng: random.Random, lo: int, hi: int, scale: float) -> int:
    return max(1, int(round(rng.randint(lo, hi) * scale)))


def _devices_for(modality: str) -> list[str]:
    return [d[0] for d in DEVICES if modality in d[4]]


def plan_patient(seed: int, pi: int, scale: float) -> dict:
    rng = random.Random(f"synth:{seed}:patient:{pi}")
    r = rng.random()
    charset = "ascii" if r < 0.70 else "latin1" if r < 0.85 else "utf8" if r < 0.96 else "iso2022"
    sex = rng.choice("MF")
    if charset == "ascii":
        name = "%s^%s" % (rng.choice(ASCII_FAMILY), rng.choice(ASCII_GIVEN_M if sex == "M" else ASCII_GIVEN_F))
        if rng.random() < 0.3:
            name += "^" + rng.choice("ABCDEFGHJKLMNPRSTW")
    elif charset == "latin1":
        fam, giv = rng.choice(LATIN1_NAMES)
        name = f"{fam}^{giv}"
    elif charset == "utf8":
        name = rng.choice(UTF8_NAMES)
    else:
        name = rng.choice(ISO2022_NAMES)
    site = rng.randrange(len(SITES))
    birth = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 365 * 88))
    patient = {
        "index": pi, "charset": charset, "name": name, "sex": sex, "birth": birth.toordinal(),
        "id": "%s%07d" % ("ABCD"[site], (pi * 7919 + seed * 104729) % 10_000_000),
        "site": site, "height": round(rng.uniform(1.5, 1.95), 2), "weight": rng.randint(45, 120),
        "studies": [],
        "alerts": rng.choice([None, None, "NONE", "Pacemaker", "Diabetes", "Claustrophobia"]),
        "allergies": rng.choice([None, None, "NKDA", "Iodine contrast", "Penicillin", "Latex"]),
    }
    n_studies = rng.choices([1, 2, 3, 4], [0.35, 0.3, 0.2, 0.15])[0]
    day0 = date(2015, 1, 1).toordinal()
    days = sorted(rng.sample(range(0, 3650), n_studies))
    for si in range(n_studies):
        kind = rng.choices([k for k, _ in STUDY_KINDS], [w for _, w in STUDY_KINDS])[0]
        study = {"index": si, "kind": kind, "date": day0 + days[si],
                 "time": rng.randint(7 * 3600, 19 * 3600), "series": [],
                 "referring": rng.choice(LATIN1_PHYSICIANS if charset == "latin1" and rng.random() < 0.5 else PHYSICIANS),
                 "accession": "%s%08d" % ("ACC", rng.randrange(10**8)),
                 "history": rng.choice([None, "Follow-up", "Known malignancy, staging", "Trauma",
                                        "Pain, rule out fracture", "Post-operative control"]),
                 "reason": rng.choice([None, "Staging", "Follow-up", "Screening", "Acute symptoms"])}
        series = study["series"]

        def add(skind, n, **kw):
            s = {"index": len(series), "kind": skind, "n": n, "number": kw.pop("number", len(series) + 1)}
            s["implicit"] = skind in IMAGE_KINDS and rng.random() < 0.08
            s.update(kw)
            series.append(s)
            return s["index"]

        if kind in ("CT", "PETCT"):
            if kind == "CT":
                desc, body, code = rng.choice(CT_STUDIES)
                dev = rng.choice(_devices_for("CT")[:5])
            else:
                desc, body, code = rng.choice(PET_STUDIES)
                dev = rng.choice(_devices_for("PT"))
            study.update(desc=desc, body=body, code=code)
            loc = add("CT", min(2, _size(rng, 1, 2, 1.0)), role="localizer", device=dev, desc="Topogram 0.6 T20f",
                      number=1)
            recons = [("Axial 2.5mm", "STANDARD", 2.5), ("Lung 1.25mm", "LUNG", 1.25), ("Bone 0.625mm", "BONE", 0.625),
                      ("Soft Tissue 5mm", "SOFT", 5.0)]
            n_ct = 1 if kind == "PETCT" else rng.randint(1, 3)
            acq = []
            for k, (d, kern, thick) in enumerate(rng.sample(recons, n_ct)):
                acq.append(add("CT", _size(rng, 40, 300, scale), role="acq", device=dev, desc=d, kernel=kern,
                               thickness=thick, localizer=loc, number=2 + k))
            if kind == "PETCT":
                acq.append(add("PT", _size(rng, 80, 250, scale), role="acq", device=dev, desc="PET WB AC",
                               thickness=3.27, localizer=loc, for_of=acq[0], number=5))
            main = acq[0] if kind == "CT" else acq[-1]
        elif kind == "MR":
            desc, body, code = rng.choice(MR_STUDIES)
            study.update(desc=desc, body=body, code=code)
            dev = rng.choice(_devices_for("MR"))
            loc = add("MR", _size(rng, 3, 9, min(1.0, scale * 4)), role="localizer", device=dev, desc="3-plane loc",
                      orient="ax", number=1)
            protos = [("T1 SE AX", "ax", "SE", 500.0, 12.0), ("T2 TSE AX", "ax", "SE", 4000.0, 95.0),
                      ("FLAIR AX", "ax", "IR", 9000.0, 120.0), ("T2 TSE SAG", "sag", "SE", 3500.0, 100.0),
                      ("DWI b1000", "ax", "EP", 5000.0, 70.0), ("T1 MPRAGE COR", "cor", "GR", 2300.0, 2.3)]
            acq = []
            for k, (d, orient, seq, tr, te) in enumerate(rng.sample(protos, rng.randint(2, 5))):
                acq.append(add("MR", _size(rng, 20, 120, scale), role="acq", device=dev, desc=d, orient=orient,
                               seq=seq, tr=tr, te=te, localizer=loc, number=2 + k))
            main = acq[0]
        elif kind == "CR":
            desc, body, code = rng.choice(CR_STUDIES)
            study.update(desc=desc, body=body, code=code)
            dev = rng.choice(_devices_for("CR"))
            views = ["PA", "LL"] if body == "CHEST" else ["AP", "LAT", "OBL"]
            acq = [add("CR", rng.randint(1, 2), role="acq", device=dev, desc=f"{body} {v}", view=v, number=1 + k)
                   for k, v in enumerate(views[: rng.randint(1, len(views))])]
            main = acq[0]
        else:  # US
            desc, body, code = rng.choice(US_STUDIES)
            study.update(desc=desc, body=body, code=code)
            dev = rng.choice(_devices_for("US"))
            acq = [add("US", _size(rng, 5, 60, min(1.0, scale * 3)), role="acq", device=dev, desc=desc, number=1)]
            if rng.random() < 0.4:
                acq.append(add("US", _size(rng, 3, 20, min(1.0, scale * 3)), role="acq", device=dev,
                               desc=desc + " DOPPLER", number=2))
            main = acq[0]
        study["acq"] = acq
        p = {"CT": dict(SEG=0.35, SR=0.5, KOS=0.3, PR=0.3, RTSTRUCT=0.2),
             "PETCT": dict(SEG=0.3, SR=0.6, KOS=0.3, PR=0.2, RTSTRUCT=0.1),
             "MR": dict(SEG=0.25, SR=0.5, KOS=0.3, PR=0.25, RTSTRUCT=0.05),
             "CR": dict(SR=0.4, KOS=0.15, PR=0.35),
             "US": dict(SR=0.6, KOS=0.2)}[kind]
        num = 100
        for dkind in ("SEG", "RTSTRUCT", "PR", "KOS", "SR"):
            if rng.random() < p.get(dkind, 0):
                src = main
                if dkind == "RTSTRUCT":
                    cts = [i for i in acq if series[i]["kind"] == "CT"]
                    if not cts:
                        continue
                    src = cts[0]
                add(dkind, 1, role="derived", device=rng.choice(_devices_for(dkind)), src=src,
                    desc={"SEG": "Segmentation", "RTSTRUCT": "RTSTRUCT", "PR": "Presentation State",
                          "KOS": "Key Images", "SR": "Report"}[dkind], number=num)
                num += 1
        patient["studies"].append(study)
    return patient


def patient_size(p: dict) -> int:
    return sum(s["n"] for st in p["studies"] for s in st["series"])


def plan_archive(instances: int, seed: int) -> list[dict]:
    scale = min(1.0, max(0.02, instances / 50_000))
    patients, total, pi = [], 0, 0
    while total < instances:
        p = plan_patient(seed, pi, scale)
        patients.append(p)
        total += patient_size(p)
        pi += 1
    # trim the overshoot from the largest acquisition series of the last patients
    excess = total - instances
    for p in reversed(patients):
        while excess > 0:
            cand = [s for st in p["studies"] for s in st["series"] if s.get("role") == "acq" and s["n"] > 1]
            if not cand:
                break
            s = max(cand, key=lambda s: s["n"])
            cut = min(excess, s["n"] - 1)
            s["n"] -= cut
            excess -= cut
        if excess <= 0:
            break
    return patients


# --------------------------------------------------------------------------
# Writing (worker side)
# --------------------------------------------------------------------------

PREAMBLE = b"\x00" * 128 + b"DICM"


def _meta_tail(ts: str, dev) -> bytes:
    return (_element(0x00020010, "UI", _value_bytes("UI", ts, "ascii"), False)
            + _element(0x00020012, "UI", _value_bytes("UI", dev[6], "ascii"), False)
            + _element(0x00020013, "SH", _value_bytes("SH", dev[7][:16], "ascii"), False)
            + _element(0x00020016, "AE", _value_bytes("AE", dev[0].upper()[:16], "ascii"), False))


def _file_meta(sop_class_el: bytes, sop_uid: str, tail: bytes) -> bytes:
    body = (b"\x02\x00\x01\x00OB\x00\x00\x02\x00\x00\x00\x00\x01" + sop_class_el
            + _element(0x00020003, "UI", _value_bytes("UI", sop_uid, "ascii"), False) + tail)
    return PREAMBLE + _element(0x00020000, "UL", struct.pack("<I", len(body)), False) + body


def _code(value, scheme, meaning):
    return Tpl(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def _ref(cls, uid):
    return Tpl(ReferencedSOPClassUID=cls, ReferencedSOPInstanceUID=uid)


def _pick(uids: list, k: int) -> list:
    """k evenly spread items (deterministic)."""
    n = len(uids)
    if n <= k:
        return list(uids)
    return [uids[(i * n) // k + (n // k) // 2] for i in range(k)]


class Writer:
    def __init__(self, out_dir: Path, seed: int):
        self.out = out_dir
        self.seed = seed
        self.c = Counter()
        self.per_sop = Counter()
        self.per_modality = Counter()
        self.per_ts = Counter()
        self.per_charset = Counter()
        self.pairs = Counter()
        self.bytes = 0

    def uid(self, *parts):
        return make_uid(self.seed, *parts)

    # -- one patient ------------------------------------------------------
    def patient(self, p: dict):
        pi = p["index"]
        self.c["patients"] += 1
        self.per_charset[p["charset"]] += 1
        site = SITES[p["site"]]
        pdir = "PAT%06d" % pi
        codec = p["charset"]
        birth = date.fromordinal(p["birth"])
        for st in p["studies"]:
            self.c["studies"] += 1
            sdate = date.fromordinal(st["date"])
            age = (sdate - birth).days // 365
            rng = random.Random(f"synth:{self.seed}:study:{pi}:{st['index']}")
            study_uid = self.uid("study", pi, st["index"])
            mpps_uid = self.uid("mpps", pi, st["index"])
            sdir = f"{pdir}/ST{st['index'] + 1:02d}_{st['accession']}"
            base = {
                "charset": CHARSET_VALUE[codec], "creator_uid": "2.25.1" + str(self.seed),
                "study_date": _da(sdate), "study_time": _tm(st["time"]), "accession": st["accession"],
                "site_ns": ["HOSPA", "KLNORD", "HSL", "UMC"][p["site"]],
                "institution": site[0], "institution_address": site[1], "department": site[2], "tz": site[3],
                "referring": st["referring"], "study_desc": st["desc"], "proc_code": st["code"][:16],
                "patient_name": p["name"], "patient_id": p["id"], "birth_date": _da(birth), "sex": p["sex"],
                "other_ids": ([Tpl(PatientID="MRN%07d" % (pi * 31 % 10**7), IssuerOfPatientID="REGIONAL",
                                   TypeOfPatientID="TEXT")] if pi % 3 == 0 else None),
                "age": "%03dY" % age, "height": fds(p["height"]), "weight": str(p["weight"]),
                "study_uid": study_uid, "study_id": str(1000 + (pi * 4 + st["index"]) % 9000),
                "req_proc_id": "RP" + st["accession"][3:], "sps_id": "SPS" + st["accession"][3:],
                "placer": "PL" + st["accession"][3:], "pps_id": "PPS" + st["accession"][3:],
                "reader": None, "body_part": st["body"],
                "region_code": st["code"][:16],
                "alerts": p["alerts"], "allergies": p["allergies"], "ethnic": None,
                "history": st["history"], "pregnancy": 4 if p["sex"] == "F" else None,
                "patient_comments": None, "admitting_dx": st["history"], "reason": st["reason"],
            }
            # instance UIDs of all series first (derived objects point at them)
            series_uids, inst_uids, for_uids = [], [], []
            for s in st["series"]:
                series_uids.append(self.uid("series", pi, st["index"], s["index"]))
                inst_uids.append([self.uid("inst", pi, st["index"], s["index"], k) for k in range(s["n"])])
            for s in st["series"]:
                if "for_of" in s:
                    for_uids.append(for_uids[s["for_of"]])
                else:
                    for_uids.append(self.uid("for", pi, st["index"], s["index"]))
            geo = {}
            mpps_series = []
            for s in st["series"]:
                self.c["series"] += 1
                g = self.series(p, st, s, base, rng, sdir, study_uid, mpps_uid, series_uids, inst_uids,
                                for_uids, geo, codec)
                geo[s["index"]] = g
                if s.get("role") in ("acq", "localizer"):
                    mpps_series.append(s)
            self.mpps(p, st, base, sdir, mpps_uid, mpps_series, series_uids, inst_uids)

    # -- one series -------------------------------------------------------
    def series(self, p, st, s, base, rng, sdir, study_uid, mpps_uid, series_uids, inst_uids, for_uids, geo, codec):
        kind = s["kind"]
        dev = DEV[s["device"]]
        implicit = s["implicit"]
        si = s["index"]
        sop_class = SOP[kind]
        sdate = date.fromordinal(st["date"])
        t0 = st["time"] + 120 + si * rng.randint(60, 400)
        if s.get("role") == "derived":
            sdate = sdate + timedelta(days=rng.choice([0, 0, 0, 1, 2]))
            t0 = rng.randint(8 * 3600, 18 * 3600)
        vals = dict(base)
        vals.update({
            "series_uid": series_uids[si], "series_number": str(s["number"]), "series_desc": s["desc"],
            "series_date": _da(sdate), "series_time": _tm(t0), "content_date": _da(sdate),
            "manufacturer": dev[2], "model": dev[3], "software": dev[5],
            "serial": "%s%05d" % (dev[0][:3].upper(), (hash_int(dev[0]) % 90000) + 10000),
            "station": (dev[0].upper().replace("_", "") + "%02d" % (p["site"] + 1))[:16],
            "operator": rng.choice(OPERATORS), "protocol": s["desc"],
            "calib_date": _da(sdate - timedelta(days=rng.randint(1, 90))),
            "acq_number": "1",
            "for_uid": for_uids[si],
        })
        n = s["n"]
        geom = {}
        refs_of: list[list[str]] = [[] for _ in range(n)]  # per instance referenced UIDs
        if kind in IMAGE_KINDS:
            vals["pps_ref"] = [_ref(MPPS_CLASS, mpps_uid)]
            for r in refs_of:
                r.append(mpps_uid)
            loc = s.get("localizer")
            if loc is not None and s.get("role") == "acq":
                lk = st["series"][loc]["kind"]
                vals["ref_localizer"] = [_ref(SOP[lk], u) for u in inst_uids[loc][:2]]
                for r in refs_of:
                    r.extend(inst_uids[loc][:2])
            else:
                vals["ref_localizer"] = None
            vals["image_type"] = (["ORIGINAL", "PRIMARY", "LOCALIZER"] if s.get("role") == "localizer"
                                  else ["ORIGINAL", "PRIMARY", "AXIAL"] if kind in ("CT", "PT")
                                  else ["ORIGINAL", "PRIMARY", "OTHER"])
            vals["patient_position"] = "HFS" if kind != "CR" else None
            geom = self.image_vals(kind, s, st, vals, rng)
        # per instance
        inst_vals = []
        if kind in IMAGE_KINDS:
            origin, step, normal_axis = geom.get("origin"), geom.get("step"), geom.get("axis")
            for k in range(n):
                iv = {"sop_uid": inst_uids[si][k], "instance_number": str(k + 1),
                      "creation_time": _tm(t0 + 30 + k * 0.25), "content_time": _tm(t0 + 20 + k * 0.25),
                      "acq_time": _tm(t0 + 10 + k * 0.25)}
                if origin is not None:
                    pos = list(origin)
                    pos[normal_axis] = origin[normal_axis] - k * step
                    iv["ipp"] = [fds(x) for x in pos]
                    iv["slice_location"] = fds(pos[normal_axis])
                inst_vals.append(iv)
            geo_out = {"pixel_spacing": vals.get("pixel_spacing"), "iop": vals.get("iop"),
                       "slice_thickness": vals.get("slice_thickness"), "rows": vals.get("rows"),
                       "cols": vals.get("cols"), "origin": origin, "step": step, "axis": normal_axis,
                       "wc": vals.get("wc"), "ww": vals.get("ww")}
        else:
            geo_out = {}
            refs = self.derived_vals(kind, s, st, vals, rng, study_uid, series_uids, inst_uids,
                                                for_uids, geo)
            refs_of = [refs]
            inst_vals.append({"sop_uid": inst_uids[si][0], "instance_number": "1",
                              "creation_time": _tm(t0 + 5), "content_time": _tm(t0)})
        vals.setdefault("reader", None)
        # write
        family = dev[1]
        prog = resolve(get_program(kind, family, implicit), vals, implicit, codec)
        ts = IMPLICIT_LE if implicit else EXPLICIT_LE
        tail = _meta_tail(ts, dev)
        cls_el = _element(0x00020002, "UI", _value_bytes("UI", sop_class, "ascii"), False)
        ddir = self.out / sdir / f"SE{s['number']:03d}_{MODALITY[kind]}"
        ddir.mkdir(parents=True, exist_ok=True)
        ext_rng = random.Random(f"synth:{self.seed}:ext:{p['index']}:{st['index']}:{si}")
        nbytes = 0
        for k in range(n):
            iv = inst_vals[k]
            try:
                body = fill(prog, iv, implicit, codec)
            except KeyError as e:
                raise RuntimeError(f"unresolved slot {e} for {kind}/{family}") from None
            data = _file_meta(cls_el, iv["sop_uid"], tail) + body
            name = ("%05d.dcm" if ext_rng.random() >= 0.05 else "IM%05d") % (k + 1)
            if "IM" in name:
                self.c["files_without_extension"] += 1
            with open(ddir / name, "wb") as f:
                f.write(data)
            nbytes += len(data)
            distinct = set(refs_of[k])
            self.c["reference_pairs"] += len(distinct)
        self.bytes += nbytes
        self.c["instances"] += n
        self.per_sop[sop_class] += n
        self.per_modality[MODALITY[kind]] += n
        self.per_ts[ts] += n
        self._count_pairs(kind, s, n, refs_of, inst_uids, st, study_uid, vals)
        return geo_out

    def _count_pairs(self, kind, s, n, refs_of, inst_uids, st, study_uid, vals):
        mpps = vals.get("pps_ref")
        mpps_uid = mpps[0][0x00081155][1] if mpps else None
        for r in refs_of[:n]:
            for u in set(r):
                if u == mpps_uid:
                    self.pairs["to_mpps"] += 1
                elif u == study_uid:
                    self.pairs["to_study"] += 1
                else:
                    self.pairs["to_instance"] += 1

    def image_vals(self, kind, s, st, vals, rng):
        role = s.get("role")
        vals["rows"], vals["cols"] = {"CT": (512, 512), "MR": (rng.choice([256, 320, 384, 512]),) * 2,
                                      "PT": (192, 192), "CR": (2140, 1760), "US": (600, 800)}[kind]
        geom = {}
        if kind in ("CT", "MR", "PT"):
            orient = s.get("orient", "ax")
            if role == "localizer" and kind == "CT":
                orient = "cor"
            iop = {"ax": ["1", "0", "0", "0", "1", "0"], "sag": ["0", "1", "0", "0", "0", "-1"],
                   "cor": ["1", "0", "0", "0", "0", "-1"]}[orient]
            axis = {"ax": 2, "sag": 0, "cor": 1}[orient]
            thick = s.get("thickness") or rng.choice([3.0, 4.0, 5.0])
            fov = {"CT": 400.0, "MR": 240.0, "PT": 700.0}[kind]
            ps = fov / vals["cols"]
            origin = [-fov / 2 + rng.uniform(-5, 5), -fov / 2 - 180 + rng.uniform(-5, 5), rng.uniform(-200, 100)]
            vals.update(iop=iop, pixel_spacing=[fds(ps), fds(ps)], slice_thickness=fds(thick))
            geom = {"origin": origin, "step": thick, "axis": axis}
        if kind == "CT":
            kvp = rng.choice([80, 100, 120, 140])
            ma = rng.randint(80, 450)
            vals.update(kvp=str(kvp), recon_diam=fds(rng.uniform(320, 480)), table_height=fds(rng.uniform(120, 190)),
                        exposure_time=str(rng.randint(400, 1200)), tube_current=str(ma), exposure=str(ma // 2),
                        kernel=s.get("kernel", "STANDARD"), ctdi=fds(rng.uniform(2, 25)),
                        contrast=rng.choice(["OMNIPAQUE 350", None, "Iopamidol"]), contrast_route=None,
                        irradiation_uid=self.uid("irr", vals["series_uid"]),
                        wc={"LUNG": "-600", "BONE": "300"}.get(s.get("kernel"), "40"),
                        ww={"LUNG": "1500", "BONE": "1500"}.get(s.get("kernel"), "400"),
                        wexpl={"LUNG": "LUNG", "BONE": "BONE"}.get(s.get("kernel"), "SOFT TISSUE"))
            if vals["contrast"]:
                vals["contrast_route"] = "IV"
        elif kind == "MR":
            fs = {"ge_premier": "3", "sie_prisma": "3", "sie_skyra": "3", "phi_ingenia": "1.5"}[s["device"]]
            seq = s.get("seq", "GR")
            vals.update(scanning_sequence=seq, sequence_variant=["SK", "SP"] if seq != "GR" else ["SP", "MP"],
                        scan_options=["PFP", "FS"] if rng.random() < 0.5 else "PFP",
                        mr_acq_type="3D" if seq == "GR" else "2D",
                        sequence_name=("*tse2d1_15" if seq == "SE" else "*tir2d1_16" if seq == "IR"
                                       else "*ep_b1000t" if seq == "EP" else "*tfl3d1_16ns"),
                        tr=fds(s.get("tr", 500.0)), te=fds(s.get("te", 10.0)),
                        ti=fds(2500.0) if seq == "IR" else None,
                        frequency="127.7" if fs == "3" else "63.86", field_strength=fs,
                        spacing=vals["slice_thickness"], etl=str(rng.choice([1, 8, 15, 24])),
                        bandwidth=str(rng.choice([130, 200, 260, 781])), coil=rng.choice(["HeadNeck_20", "Knee_18", "Spine_32", "Body_18"]),
                        flip=str(rng.choice([90, 150, 9, 12])), sar=fds(rng.uniform(0.1, 3.0)),
                        wc=str(rng.randint(200, 800)), ww=str(rng.randint(400, 1600)))
        elif kind == "PT":
            dose = rng.uniform(180e6, 400e6)
            vals.update(decay_factor=fds(rng.uniform(1.1, 1.5)), frame_ref_time="0", n_slices=str(s["n"]),
                        inject_time=_tm(st["time"] - 3600), dose=fds(dose), rescale_slope=fds(rng.uniform(0.5, 3)),
                        wc="15000", ww="30000")
        elif kind == "CR":
            vals.update(patient_orientation=["P", "F"] if s.get("view") in ("PA", "AP") else ["A", "F"],
                        view=s.get("view", "PA") if s.get("view") in ("PA", "AP", "LL", "RL") else "", kvp=str(rng.choice([70, 90, 110, 125])),
                        exposure_time=str(rng.randint(5, 40)), tube_current=str(rng.randint(100, 400)),
                        exposure=str(rng.randint(2, 12)), sensitivity=str(rng.choice([200, 400])),
                        rel_exposure=str(rng.randint(1000, 2500)), exposure_index=fds(rng.uniform(800, 2000)),
                        processing=st["body"], view_code="399348003" if s.get("view") == "PA" else "272479009",
                        view_meaning="postero-anterior" if s.get("view") == "PA" else "lateral")
        elif kind == "US":
            vals.update(transducer="C1-6-D", mi=fds(rng.uniform(0.4, 1.4)), tis=fds(rng.uniform(0.1, 1.0)),
                        depth=str(rng.randint(80, 240)), heart_rate=None, reg_x0=rng.randint(80, 140),
                        reg_x1=rng.randint(650, 720), delta=round(rng.uniform(0.01, 0.04), 6), ref_px=rng.randint(300, 400))
        return geom

    def derived_vals(self, kind, s, st, vals, rng, study_uid, series_uids, inst_uids, for_uids, geo):
        src = s["src"]
        src_s = st["series"][src]
        src_cls = SOP[src_s["kind"]]
        src_uids = inst_uids[src]
        g = geo.get(src, {})
        vals["for_uid"] = for_uids[src]
        vals["creator_name"] = rng.choice(["RESEARCH^AI", "SMITH^ANNA^^DR", "QA^TOOL"])
        vals["content_desc"] = s["desc"]
        refs: list[str] = []
        if kind == "SEG":
            chosen = _pick(src_uids, 6)
            seg_names = rng.sample([("Liver", "10200004"), ("Lung", "39607008"), ("Kidney", "64033007"),
                                    ("Tumor", "108369006"), ("Spleen", "78961009")], rng.randint(1, 2))
            segs = []
            for i, (lab, code) in enumerate(seg_names, 1):
                segs.append(Tpl(SegmentNumber=i, SegmentLabel=lab, SegmentAlgorithmType="AUTOMATIC",
                                SegmentAlgorithmName="nnU-Net",
                                SegmentedPropertyCategoryCodeSequence=[_code("123037004", "SCT", "Anatomical Structure")],
                                SegmentedPropertyTypeCodeSequence=[_code(code, "SCT", lab)]))
            frames = []
            for i, u in enumerate(chosen):
                k = src_uids.index(u)
                pos = list(g["origin"]) if g.get("origin") else [0.0, 0.0, 0.0]
                if g.get("origin"):
                    pos[g["axis"]] -= k * g["step"]
                frames.append(Tpl(
                    FrameContentSequence=[Tpl(DimensionIndexValues=[1, i + 1])],
                    PlanePositionSequence=[Tpl(ImagePositionPatient=[fds(x) for x in pos])],
                    SegmentIdentificationSequence=[Tpl(ReferencedSegmentNumber=1)]))
            vals.update(
                seg_ref_series=[Tpl(SeriesInstanceUID=series_uids[src],
                                    ReferencedInstanceSequence=[_ref(src_cls, u) for u in chosen])],
                seg_sources=[_ref(src_cls, u) for u in chosen],
                per_frame=frames, n_frames=str(len(chosen)), segments=segs,
                dim_uid=self.uid("dim", vals["series_uid"]),
                content_label="SEGMENTATION", rows=g.get("rows", 512), cols=g.get("cols", 512),
                pixel_spacing=g.get("pixel_spacing") or ["1", "1"], slice_thickness=g.get("slice_thickness") or "1",
                iop=g.get("iop") or ["1", "0", "0", "0", "1", "0"])
            refs = list(chosen)
        elif kind in ("SR", "KOS"):
            # evidence from up to 2 acquisition series
            ev_series = [i for i in st["acq"]][:2]
            ev = []
            for i in ev_series:
                chosen = _pick(inst_uids[i], 10 if kind == "SR" else 6)
                ev.append((i, chosen))
                refs.extend(chosen)
            evidence = [Tpl(StudyInstanceUID=study_uid, ReferencedSeriesSequence=[
                Tpl(SeriesInstanceUID=series_uids[i],
                    ReferencedSOPSequence=[_ref(SOP[st["series"][i]["kind"]], u) for u in ch]) for i, ch in ev])]
            first_cls = SOP[st["series"][ev[0][0]]["kind"]]
            if kind == "KOS":
                title = [_code("113000", "DCM", "Of Interest")]
                content = [Tpl(RelationshipType="CONTAINS", ValueType="IMAGE",
                               ReferencedSOPSequence=[_ref(SOP[st["series"][i]["kind"]], u)])
                           for i, ch in ev for u in ch]
                content.append(Tpl(RelationshipType="CONTAINS", ValueType="TEXT",
                                   ConceptNameCodeSequence=[_code("113012", "DCM", "Key Object Description")],
                                   TextValue="Key images for tumor board"))
                vals.update(template_id="2010")
            else:
                title = [_code("18748-4", "LN", "Diagnostic Imaging Report")]
                finding = rng.choice(["No acute abnormality.", "Small nodule in the right lower lobe, 6 mm.",
                                      "Findings consistent with prior study. Stable.",
                                      "Mild degenerative changes without acute fracture."])
                content = [
                    Tpl(RelationshipType="HAS CONCEPT MOD", ValueType="CODE",
                        ConceptNameCodeSequence=[_code("121049", "DCM", "Language of Content Item and Descendants")],
                        ConceptCodeSequence=[_code("eng", "RFC5646", "English")]),
                    Tpl(RelationshipType="HAS OBS CONTEXT", ValueType="PNAME",
                        ConceptNameCodeSequence=[_code("121008", "DCM", "Person Observer Name")],
                        PersonName=st["referring"]),
                    Tpl(RelationshipType="CONTAINS", ValueType="TEXT",
                        ConceptNameCodeSequence=[_code("121071", "DCM", "Finding")], TextValue=finding),
                    Tpl(RelationshipType="CONTAINS", ValueType="NUM",
                        ConceptNameCodeSequence=[_code("410668003", "SCT", "Length")],
                        MeasuredValueSequence=[Tpl(NumericValue=fds(rng.uniform(3, 40)),
                                                   MeasurementUnitsCodeSequence=[_code("mm", "UCUM", "mm")])]),
                    Tpl(RelationshipType="CONTAINS", ValueType="IMAGE",
                        ReferencedSOPSequence=[_ref(first_cls, ev[0][1][0])]),
                    Tpl(RelationshipType="CONTAINS", ValueType="TEXT",
                        ConceptNameCodeSequence=[_code("121076", "DCM", "Conclusion")],
                        TextValue="See findings."),
                ]
                vals.update(template_id="2000", verification="VERIFIED",
                            verifier=[Tpl(VerifyingObserverName=st["referring"],
                                          VerifyingOrganization=vals["institution"],
                                          VerificationDateTime=vals["content_date"] + "120000",
                                          VerifyingObserverIdentificationCodeSequence=[])])
            vals.update(doc_title=title, evidence=evidence, content=content)
        elif kind == "PR":
            chosen = _pick(src_uids, 12)
            vals.update(pr_ref_series=[Tpl(SeriesInstanceUID=series_uids[src],
                                           ReferencedImageSequence=[_ref(src_cls, u) for u in chosen])],
                        content_label="GSPS", br_corner=[g.get("cols") or 512, g.get("rows") or 512],
                        pixel_spacing=g.get("pixel_spacing") or ["0.1", "0.1"],
                        wc=g.get("wc") or "40", ww=g.get("ww") or "400",
                        annotation=rng.choice(["Lesion", "Compare prior", "Measurement 12 mm", "Arrow"]),
                        anchor=[float(rng.randint(50, 400)), float(rng.randint(50, 400))])
            refs = list(chosen)
        elif kind == "RTSTRUCT":
            chosen = _pick(src_uids, 10)
            contour_imgs = [_ref(src_cls, u) for u in chosen]
            rois, contours, obs = [], [], []
            for r, (name, color) in enumerate(rng.sample([("PTV", [255, 0, 0]), ("GTV", [255, 128, 0]),
                                                          ("BODY", [0, 255, 0]), ("SPINALCORD", [0, 0, 255])], 2), 1):
                rois.append(Tpl(ROINumber=str(r), ReferencedFrameOfReferenceUID=for_uids[src], ROIName=name,
                                ROIGenerationAlgorithm="MANUAL"))
                u = chosen[(r * 3) % len(chosen)]
                contours.append(Tpl(ROIDisplayColor=[str(c) for c in color], ReferencedROINumber=str(r),
                                    ContourSequence=[Tpl(ContourImageSequence=[_ref(src_cls, u)],
                                                         ContourGeometricType="CLOSED_PLANAR",
                                                         NumberOfContourPoints="3",
                                                         ContourData=["0", "0", "0", "10", "0", "0", "10", "10", "0"])]))
                obs.append(Tpl(ObservationNumber=str(r), ReferencedROINumber=str(r), RTROIInterpretedType="ORGAN",
                               ROIInterpreter=""))
            vals.update(rt_ref_for=[Tpl(FrameOfReferenceUID=for_uids[src], RTReferencedStudySequence=[Tpl(
                ReferencedSOPClassUID=STUDY_COMPONENT_CLASS, ReferencedSOPInstanceUID=study_uid,
                RTReferencedSeriesSequence=[Tpl(SeriesInstanceUID=series_uids[src],
                                                ContourImageSequence=contour_imgs)])])],
                rt_rois=rois, rt_contours=contours, rt_obs=obs, content_label="RTSTRUCT")
            refs = list(chosen) + [study_uid]
        return refs

    # -- MPPS ---------------------------------------------------------------
    def mpps(self, p, st, base, sdir, mpps_uid, series_list, series_uids, inst_uids):
        """One Modality Performed Procedure Step per study, as DICOM JSON (PS3.18 F.2)."""
        acq0 = st["series"][st["acq"][0]]
        station = DEV[acq0["device"]][0].upper()[:16]
        perf = []
        n_refs = 0
        for s in series_list:
            si = s["index"]
            cls = SOP[s["kind"]]
            perf.append(Tpl(PerformingPhysicianName="", ProtocolName=s["desc"], OperatorsName="",
                            SeriesInstanceUID=series_uids[si], SeriesDescription=s["desc"], RetrieveAETitle="PACS",
                            ReferencedImageSequence=[_ref(cls, u) for u in inst_uids[si]],
                            ReferencedNonImageCompositeSOPInstanceSequence=[]))
            n_refs += len(inst_uids[si])
        t = Tpl(
            SpecificCharacterSet="ISO_IR 192", SOPClassUID=MPPS_CLASS, SOPInstanceUID=mpps_uid,
            Modality=MODALITY[acq0["kind"]],
            ProcedureCodeSequence=[_code(base["proc_code"], "L", base["study_desc"])],
            PatientName=p["name"], PatientID=p["id"], IssuerOfPatientID=base["site_ns"],
            PatientBirthDate=base["birth_date"], PatientSex=p["sex"], StudyID=base["study_id"],
            PerformedStationAETitle=station, PerformedStationName=station, PerformedLocation=base["site_ns"],
            PerformedProcedureStepStartDate=base["study_date"], PerformedProcedureStepStartTime=base["study_time"],
            PerformedProcedureStepEndDate=base["study_date"], PerformedProcedureStepEndTime=_tm(st["time"] + 1800),
            PerformedProcedureStepStatus="COMPLETED", PerformedProcedureStepID=base["pps_id"],
            PerformedProcedureStepDescription=base["study_desc"],
            PerformedProcedureTypeDescription=base["study_desc"],
            ScheduledStepAttributesSequence=[Tpl(
                StudyInstanceUID=base["study_uid"], AccessionNumber=st["accession"],
                RequestedProcedureID=base["req_proc_id"], RequestedProcedureDescription=base["study_desc"],
                ScheduledProcedureStepID=base["sps_id"], ScheduledProcedureStepDescription=base["study_desc"])],
            PerformedSeriesSequence=perf,
        )
        path = self.out / sdir / "mpps.json"
        data = json.dumps(tpl_to_json(t), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with open(path, "wb") as f:
            f.write(data)
        self.c["mpps_documents"] += 1
        self.c["mpps_series"] += len(series_list)
        self.c["mpps_referenced_images"] += n_refs
        self.c["mpps_bytes"] += len(data)

    def result(self) -> dict:
        return {"c": dict(self.c), "per_sop": dict(self.per_sop), "per_modality": dict(self.per_modality),
                "per_ts": dict(self.per_ts), "per_charset": dict(self.per_charset), "pairs": dict(self.pairs),
                "bytes": self.bytes}


def tpl_to_json(t: dict) -> dict:
    """DICOM JSON model (PS3.18 F.2), as pydicom's Dataset.to_json_dict() writes it
    (string VRs only, plus PN and SQ; tags in ascending order)."""
    out = {}
    for tag in sorted(t):
        vr, v = t[tag]
        if v is None:
            continue
        e = {"vr": vr}
        if vr == "SQ":
            e["Value"] = [tpl_to_json(item) for item in v]
        elif vr == "PN":
            if v:
                groups = v.split("=")
                e["Value"] = [{k: g for k, g in zip(("Alphabetic", "Ideographic", "Phonetic"), groups) if g}]
        elif vr in _BIN_VRS:
            e["Value"] = list(v) if isinstance(v, (list, tuple)) else [v]
        elif v != "":
            e["Value"] = v.split("\\") if isinstance(v, str) else [str(x) for x in v]
        out["%08X" % tag] = e
    return out


def hash_int(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")


def _work(args) -> dict:
    out_dir, seed, patients = args
    w = Writer(Path(out_dir), seed)
    for p in patients:
        w.patient(p)
    return w.result()


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def _params(instances: int, seed: int) -> dict:
    return {"instances_target": instances, "seed": seed, "generator_version": GENERATOR_VERSION}


def load_existing(out_dir: Path, instances: int, seed: int) -> dict | None:
    f = out_dir / SYNTH_JSON
    if not f.is_file() or (out_dir / PARTIAL_MARKER).exists():
        return None
    try:
        info = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    if info.get("params") == _params(instances, seed) and info.get("complete"):
        return info
    return None


def generate(out_dir: Path, instances: int, seed: int = 0, workers: int = 1, verbose: bool = False) -> dict:
    """Write the archive (or reuse a complete one) and return SYNTH.json's content."""
    out_dir = Path(out_dir)
    existing = load_existing(out_dir, instances, seed)
    if existing is not None:
        if verbose:
            print(f"reusing complete archive in {out_dir} ({existing['instances']} files)")
        return existing
    t_start = time.perf_counter()
    if out_dir.exists() and any(out_dir.iterdir()):
        if not ((out_dir / SYNTH_JSON).exists() or (out_dir / PARTIAL_MARKER).exists()):
            raise SystemExit(f"{out_dir} is not empty and holds no synth archive; refusing to overwrite")
        for child in out_dir.iterdir():  # our own (stale or partial) archive
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / PARTIAL_MARKER).write_text("generation in progress\n")

    patients = plan_archive(instances, seed)
    # chunks of patients (balanced, result independent of the chunking)
    target_chunk = max(50, instances // max(1, workers * 16))
    chunks, cur, cur_n = [], [], 0
    for p in patients:
        cur.append(p)
        cur_n += patient_size(p)
        if cur_n >= target_chunk:
            chunks.append(cur)
            cur, cur_n = [], 0
    if cur:
        chunks.append(cur)
    jobs = [(str(out_dir), seed, c) for c in chunks]
    results = []
    if workers <= 1 or len(jobs) == 1:
        results = [_work(j) for j in jobs]
    else:
        import multiprocessing as mp
        ctx = mp.get_context("fork") if sys.platform.startswith("linux") else mp.get_context()
        with ctx.Pool(workers) as pool:
            results = list(pool.imap_unordered(_work, jobs))

    c, per_sop, per_mod, per_ts, per_cs, pairs = (Counter() for _ in range(6))
    nbytes = 0
    for r in results:
        c.update(r["c"])
        per_sop.update(r["per_sop"])
        per_mod.update(r["per_modality"])
        per_ts.update(r["per_ts"])
        per_cs.update(r["per_charset"])
        pairs.update(r["pairs"])
        nbytes += r["bytes"]
    info = {
        "params": _params(instances, seed),
        "complete": True,
        "layout": "<patient>/<study>/<series>/<n>.dcm (some files without extension); <patient>/<study>/mpps.json",
        "patients": c["patients"],
        "studies": c["studies"],
        "series": c["series"],
        "instances": c["instances"],
        "files_without_extension": c["files_without_extension"],
        "bytes": nbytes,
        "per_sop_class": dict(sorted(per_sop.items())),
        "sop_class_names": {k: SOP_NAMES[k] for k in sorted(per_sop)},
        "per_modality": dict(sorted(per_mod.items())),
        "per_transfer_syntax": dict(sorted(per_ts.items())),
        "patients_per_charset": dict(sorted(per_cs.items())),
        # distinct (file SOPInstanceUID, ReferencedSOPInstanceUID (0008,1155)) pairs over all
        # sequences of all DICOM files; split by what the referenced UID is
        "reference_pairs": c["reference_pairs"],
        "reference_pairs_by_target": {"instance": pairs["to_instance"], "mpps": pairs["to_mpps"],
                                      "study": pairs["to_study"]},
        "mpps_documents": c["mpps_documents"],
        "mpps_performed_series": c["mpps_series"],
        "mpps_referenced_images": c["mpps_referenced_images"],
        "mpps_bytes": c["mpps_bytes"],
    }
    (out_dir / SYNTH_JSON).write_text(json.dumps(info, indent=2) + "\n")
    (out_dir / PARTIAL_MARKER).unlink()
    if verbose:
        dt = time.perf_counter() - t_start
        print(f"files {info['instances']} (+{info['mpps_documents']} MPPS json)  patients {info['patients']}  "
              f"studies {info['studies']}  series {info['series']}  bytes {nbytes}  "
              f"seconds {dt:.2f}  files/s {info['instances'] / dt:.0f}")
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--instances", type=int, default=100_000, help="target number of DICOM files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    generate(a.out_dir, a.instances, a.seed, a.workers, verbose=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
