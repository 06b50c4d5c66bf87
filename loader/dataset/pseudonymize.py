"""Pseudonymization for `ingest --pseudonymize` (the network listener does not pseudonymize, yet).

- Patient ID and Patient Name become a keyed HMAC-SHA256 pseudonym (hex, 20 characters); the key comes
  from DICOM_GRAPH_PSEUDONYM_KEY, so the same patient gets the same pseudonym in every run and every
  process, and nobody without the key can recompute it from a name.
- Every other identifying attribute of the Basic Application Level Confidentiality Profile
  (PS3.15 Table E.1-1) that we apply is not stored: the cited rows of basic_profile.py.
- UIDs are kept (the profile would replace them; we keep them so pointers still resolve).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from .basic_profile import removed_keywords

ENV_KEY = "DICOM_GRAPH_PSEUDONYM_KEY"

# read once per process: `removes` runs for every element of every instance
REMOVED_KEYWORDS: frozenset[str] = removed_keywords()


class PseudonymKeyMissing(RuntimeError):
    pass


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
        mac = hmac.new(self.key, f"{kind}\x00{value}".encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:20]

    def patient_id(self, patient_id: str, issuer: str | None) -> str:
        # the issuer takes part, so the same ID from two issuers stays two patients
        return self.pseudonym("PatientID", f"{patient_id}^{issuer or ''}")

    def patient_name(self, name: str) -> str:
        return self.pseudonym("PatientName", name)

    def replace_patient(self, props: dict[str, Any]) -> None:
        """Replace Patient ID and Patient Name in an instance's properties by their pseudonyms.

        Runs after the removed attributes were left out, so Issuer of Patient ID (a Basic Profile row)
        is never in `props` here and takes no part in the Patient ID pseudonym.
        """
        patient_id = props.get("PatientID")
        if patient_id:
            props["PatientID"] = self.patient_id(patient_id, props.get("IssuerOfPatientID"))
        if props.get("PatientName"):
            props["PatientName"] = self.patient_name(props["PatientName"])

    def removes(self, keyword: str) -> bool:
        return keyword in REMOVED_KEYWORDS

    def digest_key(self) -> bytes:
        """A key for content hashes, so a hash reveals nothing to whoever lacks the key."""
        return hashlib.sha256(b"content\x00" + self.key).digest()
