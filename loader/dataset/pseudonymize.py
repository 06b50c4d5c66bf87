"""Pseudonymization (`ingest --pseudonymize`; the listener gets it by passing a Pseudonymizer to
dataset_to_batch): PS3.15 Table E.1-1 applied to every value the graph stores.

- Patient ID and Patient Name become a keyed HMAC-SHA256 pseudonym (hex, 20 characters); the key comes
  from DICOM_GRAPH_PSEUDONYM_KEY, so the same patient gets the same pseudonym in every run and every
  process, and nobody without the key can recompute it from a name. The Patient ID pseudonym takes the
  Issuer of Patient ID in, read from the dataset although the issuer itself is not stored, so the same
  ID under two issuers stays two patients (the Patient node's key is that pseudonym).
- Every other attribute of Table E.1-1 is not stored, except UIDs (basic_profile.py says why, row by
  row). That holds for typed properties (elements.py leaves them out) and for the text a value that
  does not parse is kept as (`invalid_values`): a Patient ID or Name there becomes its pseudonym too.
- Private attributes are never properties; pointers found inside private sequences are dropped.
- Paths become a keyed hash (`path`): Instance.path, SourceFile.key, IngestRun.paths and the rejection
  report's `path` name a file only by it. To find the file behind a report line, hash the candidates
  with the same key: `Pseudonymizer.from_env().path(p) == line["path"]` for p under the ingested folders.
  Error messages lose the path the same way (`scrub`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any

from .basic_profile import removed_keywords

ENV_KEY = "DICOM_GRAPH_PSEUDONYM_KEY"

# read once per process: `removes` runs for every element of every instance
REMOVED_KEYWORDS: frozenset[str] = removed_keywords()
# a sequence without a keyword appears in a pointer's `via` as GGGGEEEE; an odd group is private
_PRIVATE_SEGMENT = re.compile(r"[0-9A-F]{3}[13579BDF][0-9A-F]{4}")
# the one problem text that carries pydicom's message (elements.py): the message may quote a value
_SEQUENCE_PROBLEM = re.compile(r"(unreadable sequence \S+: \w+): .*", re.S)


class PseudonymKeyMissing(RuntimeError):
    pass


def _issuer(ds: Any) -> str:
    """Issuer of Patient ID as written in the dataset ('' when absent or unreadable)."""
    try:
        return str(ds.get("IssuerOfPatientID", "") or "").strip()
    except Exception:  # a value pydicom cannot decode: the ID alone then keys the patient
        return ""


def _private_via(via: str) -> bool:
    return any(_PRIVATE_SEGMENT.fullmatch(part) for part in via.split(">"))


class Pseudonymizer:
    """Keyed, stable pseudonyms; picklable (worker processes get their own copy)."""

    def __init__(self, key: bytes | str) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not key:
            raise PseudonymKeyMissing(f"{ENV_KEY} is empty")
        self.key = key

    @classmethod
    def from_env(cls) -> "Pseudonymizer":
        key = os.environ.get(ENV_KEY)
        if not key:
            raise PseudonymKeyMissing(
                f"--pseudonymize needs a secret key in the environment variable {ENV_KEY}")
        return cls(key)

    def pseudonym(self, kind: str, value: str) -> str:
        # surrogateescape: a path that is not UTF-8 (os.fsdecode keeps its bytes as surrogates) hashes too
        mac = hmac.new(self.key, f"{kind}\x00{value}".encode("utf-8", "surrogateescape"), hashlib.sha256)
        return mac.hexdigest()[:20]

    def patient_id(self, patient_id: str, issuer: str | None) -> str:
        # the issuer takes part, so the same ID from two issuers stays two patients
        return self.pseudonym("PatientID", f"{patient_id}^{issuer or ''}")

    def patient_name(self, name: str) -> str:
        return self.pseudonym("PatientName", name)

    def path(self, path: str) -> str:
        """A file's or folder's keyed hash (of its absolute path), where the graph or the report would name it."""
        return self.pseudonym("path", os.path.abspath(path))

    def scrub(self, text: str, path: str) -> str:
        """An error message about `path` naming it by its hash only (OS errors quote the path)."""
        shown = self.path(path)
        text = text.replace(path, shown)
        name = os.path.basename(path)
        return text.replace(name, shown) if name else text

    def apply(self, elements: Any, ds: Any) -> None:
        """Pseudonymize what read_elements kept (an elements.Elements) in place, before the patient key is
        made from it: Patient ID and Name, the invalid values' text, the pointers, the problems."""
        props, issuer = elements.props, _issuer(ds)
        if props.get("PatientID"):
            props["PatientID"] = self.patient_id(props["PatientID"], issuer)
        if props.get("PatientName"):
            props["PatientName"] = self.patient_name(props["PatientName"])
        elements.invalid = [self._invalid_value(entry, issuer) for entry in elements.invalid]
        pointers = elements.pointers
        for found in (pointers.instances, pointers.series, pointers.studies):
            found[:] = [(via, uid) for via, uid in found if not _private_via(via)]
        elements.problems = [_SEQUENCE_PROBLEM.sub(r"\1", p) for p in elements.problems]

    def _invalid_value(self, entry: str, issuer: str) -> str:
        """'Keyword=raw text' as stored in invalid_values; the patient's ID and name as pseudonyms."""
        keyword, _, text = entry.partition("=")
        if keyword == "PatientID":
            return f"{keyword}={self.patient_id(text, issuer)}"
        if keyword == "PatientName":
            return f"{keyword}={self.patient_name(text)}"
        return entry  # removed attributes never get here (elements.py drops them first)

    def removes(self, keyword: str) -> bool:
        return keyword in REMOVED_KEYWORDS

    def digest_key(self) -> bytes:
        """A key for content hashes, so a hash reveals nothing to whoever lacks the key."""
        return hashlib.sha256(b"content\x00" + self.key).digest()
