"""Every bad input to the engine is one clear error naming the row and value, never a traceback."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livingreview.meta import cli as meta_cli
from livingreview.meta.models import InputError, MetaAnalysisError, confint_tau2, predict, rma

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
YI = [0.1, -0.3, 0.25, 0.4, 0.05]
VI = [0.02, 0.05, 0.01, 0.03, 0.04]


@pytest.mark.parametrize(
    ("yi", "vi", "column", "index", "words"),
    [
        (YI, [0.02, 1e-320, 0.01, 0.03, 0.04], "vi", 1, "subnormal"),
        (YI, [0.02, 0.05, 1e-300, 0.03, 0.04], "vi", 2, "more than 1e100 times smaller"),
        ([0.1, 1e300, 0.25, 0.4, 0.05], VI, "yi", 1, "too far from the other outcomes"),
        ([0.1, 1e301, 0.25, 0.4, 0.05], VI, "yi", 1, "too large"),
        ([0.1, "abc", 0.25, 0.4, 0.05], VI, "yi", 1, "not a number: 'abc'"),
        (YI, [0.02, 0.05, 0.01, None, 0.04], "vi", 3, "missing value"),
    ],
)
def test_extreme_or_broken_values_name_row_and_value(
    yi: list, vi: list, column: str, index: int, words: str
) -> None:
    with pytest.raises(InputError) as err:
        rma(yi, vi)
    assert (err.value.column, err.value.index) == (column, index)
    assert words in err.value.problem


def test_two_dimensional_input_is_refused() -> None:
    with pytest.raises(MetaAnalysisError, match="one-dimensional"):
        rma(np.ones((3, 2)), np.ones((3, 2)))
    assert rma(np.array([YI]).T, VI).k == 5  # a single column is a vector


def test_tiny_and_huge_units_fit_exactly() -> None:
    """Variances of 1e-300 or 1e300 are fine when all studies share the units (rescaled exactly)."""
    base = rma(YI, VI)
    for c in (1e-150, 1e150):
        fit = rma(np.array(YI) * c, np.array(VI) * c * c)
        assert fit.tau2 / (c * c) == pytest.approx(base.tau2, rel=1e-12)
        assert fit.ci_lb[0] / c == pytest.approx(base.ci_lb[0], rel=1e-12)
        ci, ci0 = confint_tau2(fit), confint_tau2(base)
        assert ci.tau2_ub / (c * c) == pytest.approx(ci0.tau2_ub, rel=1e-12)


def test_metafor_control_refuses_what_its_absolute_rules_cannot_fit() -> None:
    with pytest.raises(InputError, match="control='metafor'"):
        rma(np.array(YI) * 1e-60, np.array(VI) * 1e-120, control="metafor")


finite_or_wild = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.floats(min_value=-1e3, max_value=1e3),
    st.sampled_from([0.0, -0.0, 1e-320, 1e-300, 1e300, 5e-324, 1.7e308]),
)


@PROPERTY
@given(
    yi=st.lists(finite_or_wild, min_size=1, max_size=8),
    vi=st.lists(finite_or_wild, min_size=1, max_size=8),
    method=st.sampled_from(["REML", "PM", "DL", "EE"]),
    test=st.sampled_from(["z", "knha"]),
)
def test_never_a_traceback_nor_a_silent_degenerate_result(yi: list, vi: list, method: str, test: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", RuntimeWarning)  # numpy overflow/invalid would be a bug
        try:
            fit = rma(yi, vi, method=method, test=test)
        except MetaAnalysisError as err:
            assert str(err) and "\n" not in str(err)
            return
        pr = predict(fit)
        values = [
            fit.estimate,
            fit.se[0],
            fit.ci_lb[0],
            fit.ci_ub[0],
            fit.tau2,
            fit.QE,
            fit.I2,
            pr.pi_lb,
            pr.pi_ub,
        ]
        if not (test == "knha" and fit.s2w == 0):  # knha with Q = 0: se = 0 and z = ±inf, as metafor
            assert all(math.isfinite(x) for x in values), values
        if fit.k > 1 and method != "EE":
            ci = confint_tau2(fit)
            assert math.isfinite(ci.tau2_lb) and math.isfinite(ci.tau2_ub)


cell = st.one_of(
    st.text(alphabet="0123456789.-eE+ainfINF", max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e-320", "1e300", "", " ", "0", "-1", "abc"]),
)


@PROPERTY
@given(
    rows=st.lists(st.tuples(cell, cell), min_size=1, max_size=6),
    header=st.sampled_from(["yi,vi", "yi,yi", "vi,yi"]),
)
def test_cli_gives_json_or_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list, header: str
) -> None:
    path = tmp_path / "d.csv"
    path.write_text(header + "\n" + "\n".join(f"{a},{b}" for a, b in rows) + "\n", encoding="utf-8")
    code = meta_cli.main(["meta", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code in (0, 1)
    if code == 1:
        assert out == "" and err.count("\n") == 1 and err.startswith(str(path))
        assert "Traceback" not in err
    if header == "yi,yi":
        assert code == 1 and "duplicate column" in err


def test_cli_names_file_row_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.csv"
    path.write_text("yi,vi\n0.1,0.02\n0.2,1e-320\n0.3,0.01\n", encoding="utf-8")
    assert meta_cli.main(["meta", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:3:vi: 9.9998886718268301e-321 is subnormal") and err.count("\n") == 1
    path.write_text("yi,vi,yi\n0.1,0.02,1\n", encoding="utf-8")
    assert meta_cli.main(["meta", str(path)]) == 1
    assert capsys.readouterr().err == f"{path}:1:yi: duplicate column name in the header\n"
