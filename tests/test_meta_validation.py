"""The validation summary for the book (frame, great_tables table, _variables.yml figures)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from livingreview.meta_validation import (
    load_reference,
    summary_variables,
    validation_frame,
    validation_table,
)

REF_PATH = Path(__file__).parent / "reference" / "metafor_reference.json"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return validation_frame(REF_PATH)


def test_frame_has_one_row_per_group_sorted(frame: pd.DataFrame) -> None:
    keys = ["dataset", "method", "test", "group"]
    assert list(frame.columns) == [*keys, "n", "worst_rel_diff", "all_ok"]
    assert not frame.duplicated(keys).any()
    assert frame[keys].equals(frame.sort_values(keys)[keys].reset_index(drop=True))
    assert frame["all_ok"].all()
    assert frame["worst_rel_diff"].max() < 1e-8
    assert set(frame["dataset"]) == set(load_reference(REF_PATH)["datasets"])


def test_table_html_is_deterministic() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html1 = validation_table(REF_PATH).as_raw_html()
        html2 = validation_table(REF_PATH).as_raw_html()
    assert html1 == html2
    assert 'id="metafor-validation"' in html1 and "Agreement with R metafor" in html1


def test_display_is_a_bound_that_does_not_depend_on_noise_digits() -> None:
    from livingreview.meta_validation import _fmt

    assert _fmt(4.6e-09) == _fmt(4.7e-09) == _fmt(1e-09) == "< 1e-8"
    assert _fmt(1.3e-11) == "< 1e-10" and _fmt(3e-13) == "< 1e-12"


def test_summary_variables() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = summary_variables(REF_PATH)
    assert v["n_comparisons"] > 20_000 and v["n_failed"] == 0
    # shown as the power of ten it stays below: the digits are BLAS noise that differs by machine
    assert re.fullmatch(r"< 1e-\d+", v["worst_rel_diff"])
    assert float(v["worst_rel_diff"][2:]) <= 1e-8
    assert v["metafor_version"] == "3.8.1" and v["n_datasets"] == 7
