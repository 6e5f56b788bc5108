"""The validation summary for the book (frame, great_tables table, _variables.yml figures)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from livingreview.meta.validation import (
    ANALYSES,
    bound,
    detail_table,
    exact_frame,
    exact_table,
    load_reference,
    metafor_defaults_frame,
    metafor_defaults_table,
    summary_frame,
    summary_variables,
    validation_frame,
    validation_table,
    value_bound,
)

REF_PATH = Path(__file__).parent / "reference" / "metafor_reference.json"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return validation_frame(REF_PATH)


def test_frame_has_one_row_per_group_sorted(frame: pd.DataFrame) -> None:
    keys = ["dataset", "method", "test", "group"]
    diffs = ["worst_value_diff", "worst_cooks_diff", "worst_p_diff"]
    assert list(frame.columns) == [*keys, "n", *diffs, "all_ok"]
    assert not frame.duplicated(keys).any()
    assert frame[keys].equals(frame.sort_values(keys)[keys].reset_index(drop=True))
    assert frame["all_ok"].all()
    assert frame["worst_value_diff"].max() <= 1e-9
    assert frame["worst_cooks_diff"].max() <= 1e-8  # metafor's own Cook's distances of meta-regressions
    assert set(frame["dataset"]) == set(load_reference(REF_PATH)["datasets"])


def test_table_html_is_deterministic() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html1 = validation_table(REF_PATH).as_raw_html()
        html2 = validation_table(REF_PATH).as_raw_html()
    assert html1 == html2
    assert 'id="metafor-validation"' in html1 and "Agreement with R metafor" in html1
    for table, ident in ((exact_table, "exact-validation"), (metafor_defaults_table, "metafor-defaults")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            html = table().as_raw_html()
        assert f'id="{ident}"' in html and html == table().as_raw_html()
        assert not re.search(r"\d\.\de-1[0-9]", html)  # no raw floating-point noise printed


def test_summary_has_one_row_per_analysis_and_control(frame: pd.DataFrame) -> None:
    """The book's table: every comparison counted once, worst differences kept, analyses in order."""
    summary = summary_frame(frame)
    assert not summary.duplicated(["analysis", "control"]).any()
    assert summary["n"].sum() == frame["n"].sum()
    assert summary["worst_value_diff"].max() == frame["worst_value_diff"].max()
    assert summary["worst_cooks_diff"].max() == frame["worst_cooks_diff"].max()
    order = list(ANALYSES)
    ranks = [order.index(a) for a in summary["analysis"]]
    assert ranks == sorted(ranks)
    model = summary[(summary["analysis"] == "model") & (summary["control"] == "tight")].iloc[0]
    assert model["methods"] == "DL, EE, HE, ML, PM, REML, SJ" and model["tests"] == "knha, z"
    assert model["datasets"] == frame["dataset"].nunique()
    assert len(summary) < len(frame) / 20  # a summary a reader can take in (the detail: 1,000+ rows)
    failing = frame.assign(all_ok=frame.index != 0)
    assert not summary_frame(failing)["all_ok"].all()  # one failing group shows in the summary
    with pytest.raises(ValueError, match="without a name"):
        summary_frame(frame.assign(group="newthing"))


def test_value_bound_keeps_cooks_tolerance_apart() -> None:
    nan = float("nan")
    assert value_bound(5e-10, nan) == "< 1e-9"
    assert value_bound(5e-10, 5e-9) == "< 1e-8"  # Cook's distances are held to 1e-8
    assert value_bound(5e-10, 5e-10) == "< 1e-9"
    assert value_bound(nan, 5e-9) == "< 1e-8"
    assert value_bound(2e-9, 5e-10) == "2.0e-09"  # a value beyond 1e-9 is a failure, shown as it is
    assert value_bound(5e-10, 2e-8) == "2.0e-08"


def test_detail_table_lists_every_group(frame: pd.DataFrame) -> None:
    html = detail_table(frame, "detail", "metafor").as_raw_html()
    assert html.count("<tr") >= len(frame)
    assert not re.search(r"\d\.\de-\d\d", html)  # every difference shown as a bound


def test_summary_variables() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = summary_variables(REF_PATH)
    assert v["n_comparisons"] > 40_000 and v["n_failed"] == 0
    assert v["worst_rel_diff"] == v["exact_worst_rel_diff"] == "< 1e-9"  # a bound: machine-independent
    assert v["n_exact_comparisons"] > 1000 and v["n_exact_failed"] == 0 and v["exact_digits"] == 50
    assert v["metafor_version"] == "3.8.1" and v["n_datasets"] == 10
    assert float(v["metafor_default_worst_tau2"]) > 1  # metafor's PM in milli-units is far off


def test_bounds_are_the_same_on_every_machine() -> None:
    assert bound(4.6e-10, 1e-9) == bound(4.7e-10, 1e-9) == bound(1e-9, 1e-9) == "< 1e-9"
    assert bound(2e-6, 1e-9) == "2.0e-06"  # a failure is shown as it is
    assert bound(float("nan"), 1e-9) == "–"


def test_exact_frame_and_metafor_defaults() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = exact_frame()
    assert ex["all_ok"].all() and ex["worst_value_diff"].max() < 1e-11
    d = metafor_defaults_frame()
    row = d[(d["dataset"] == "bcg") & (d["method"] == "REML")].iloc[0]
    assert 1e-8 < row["tau2"] < 1e-5  # metafor's default REML stops about 2e-7 short on dat.bcg


def test_committed_summary_is_current_and_recomputed_when_stale(tmp_path: Path) -> None:
    """The committed summary matches its inputs (digest) and a fresh computation; a stale one is
    recomputed and rewritten by ``validation_variables``."""
    import json
    import shutil

    from livingreview.book.variables import (
        VALIDATION_INPUTS,
        VALIDATION_SUMMARY,
        files_digest,
        validation_variables,
    )
    from livingreview.project import Project

    root = Path(__file__).resolve().parents[1]
    stored = json.loads((root / VALIDATION_SUMMARY).read_text(encoding="utf-8"))
    assert stored["digest"] == files_digest(root, VALIDATION_INPUTS), (
        "run `livingreview execute` and commit it"
    )
    assert stored["values"] == summary_variables(root / VALIDATION_INPUTS[0])

    copy = tmp_path / "review"
    for pattern in (*VALIDATION_INPUTS, VALIDATION_SUMMARY):
        for path in root.glob(pattern):
            (copy / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy / path.relative_to(root))
    (copy / VALIDATION_SUMMARY).write_text(json.dumps({"digest": "stale", "values": {}}), encoding="utf-8")
    assert validation_variables(Project(copy)) == stored["values"]
    assert json.loads((copy / VALIDATION_SUMMARY).read_text(encoding="utf-8")) == stored
