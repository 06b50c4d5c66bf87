"""The content hash of an instance: how the writer tells a second copy of an instance from a changed one.

The same instance arrives as a Part 10 file in any transfer syntax, as DICOM JSON or over the network, so
the hash is of the content, not of the bytes: every element in tag order, nested items marked, text
values as their raw bytes (identical in every transfer syntax), binary values decoded first (their bytes
depend on the byte order), deferred bulk data by its length only (never read). It is fed while the
elements are walked for their values and pointers, so a dataset is traversed once. Each element's tag
goes in as 4 little-endian bytes, written inline by those walks (elements.py, references.py): a
function call per element showed in their time.

With a pseudonymizer the hash is keyed: a hash of identifying content must reveal nothing to whoever
lacks the key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from .tags import TEXT_VRS, unpack_binary

ITEM_START = b"\xfe\xff\x00\xe0"


def new_digest(pseudonymizer: Any) -> Any:
    if pseudonymizer:
        return hmac.new(pseudonymizer.digest_key(), digestmod=hashlib.sha1)
    return hashlib.sha1()


def update_deferred(digest: Any, length: int) -> None:
    digest.update(b"#%d" % length)


def _update_plain(digest: Any, value: Any, verbatim_bytes: bool) -> None:
    if isinstance(value, (bytes, bytearray)):
        digest.update(value if verbatim_bytes else b"#%d" % len(value))
    else:
        digest.update(str(value).encode("utf-8", "replace"))


def update_unnamed(digest: Any, value: Any, vr: str | None) -> None:
    """A top-level element without a keyword (private, unknown): hashed, never decoded."""
    _update_plain(digest, value, vr in TEXT_VRS or vr is None)


def update_value(digest: Any, raw: Any, is_raw: bool, vr: str | None, value: Any) -> None:
    """A top-level element with a keyword, once decoded to `value`."""
    if is_raw and raw.value is not None and (vr in TEXT_VRS or vr is None):
        digest.update(raw.value)
    elif isinstance(value, (bytes, bytearray)):
        digest.update(b"#%d" % len(value))
    else:
        digest.update(repr(value).encode("utf-8", "replace"))


def update_nested(digest: Any, item: Any, tag: int, raw: Any, is_raw: bool, vr: str | None) -> None:
    """An element of a sequence item (not itself a sequence)."""
    if not is_raw:
        _update_plain(digest, raw.value, False)
    elif raw.value is None:
        update_deferred(digest, raw.length or 0)
    elif vr in TEXT_VRS or vr is None:
        digest.update(raw.value)
    else:
        digest.update(_binary_text(item, tag, raw, vr))


def _binary_text(item: Any, tag: int, raw: Any, vr: str | None) -> bytes:
    """str() of the value pydicom converts a binary element to (struct where it can, pydicom where it
    must); the raw bytes when pydicom cannot convert it either."""
    value = unpack_binary(raw, vr)
    if value is not None:
        return str(value).encode("utf-8", "replace")
    try:
        return str(item[tag].value).encode("utf-8", "replace")
    except Exception:
        return raw.value
