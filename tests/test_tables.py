"""Tables: fixed ids, deterministic HTML, and text from the data always escaped."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from livingreview.data.dataset import load_dataset
from livingreview.reporting import tables

BUILDERS = [
    tables.characteristics_table,
    tables.data_dictionary_table,
    tables.direction_table,
    tables.pooling_table,
    tables.associations_table,
    tables.evidence_table,
]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
def test_tables_have_fixed_ids_and_identical_html(build, root: Path) -> None:
    data = load_dataset(root / "data")
    first, second = build(data).as_raw_html(), build(data).as_raw_html()
    assert first == second
    assert 'id="tbl-' in first
    shown = tables.show(build(data))
    assert repr(shown).startswith("<table tbl-") and "0x" not in repr(shown)


def test_text_from_the_data_is_escaped(data_copy: Path) -> None:
    path = data_copy / "effects.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, list(reader)
    rows[0]["quote"] = '<script>alert("x")</script> & <b>bold</b>'
    rows[0]["statistic_reported"] = "<img src=x onerror=alert(1)>"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    data = load_dataset(data_copy)
    evidence = tables.evidence_table(data).as_raw_html()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in evidence
    assert "<script>" not in evidence and "<b>bold" not in evidence
    associations = tables.associations_table(data).as_raw_html()
    assert "&lt;img src=x onerror=alert(1)&gt;" in associations and "<img" not in associations


def test_study_label() -> None:
    assert tables.study_label("ZilchaMano2015PPS") == "ZilchaMano 2015 (PPS)"
    assert tables.study_label("Krupnick1996") == "Krupnick 1996"
