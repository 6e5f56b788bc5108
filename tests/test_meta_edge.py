"""Edge cases of livingreview.meta.models: metafor's answer or one clear MetaAnalysisError."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from livingreview.meta.core import EPS, zeroin
from livingreview.meta.models import (
    Control,
    ConvergenceError,
    InputError,
    MetaAnalysisError,
    confint_tau2,
    fisher_z,
    fisher_z_inverse,
    moderator_matrix,
    predict,
    rma,
    subgroup_analysis,
)
from livingreview.meta.sensitivity import (
    cumulative,
    influence,
    leave1out,
    regtest,
    trimfill,
)

YI = [-0.889, -1.585, -1.348, -1.442, -0.218, -0.786, -1.621, 0.012, -0.469, -1.371]
VI = [0.326, 0.195, 0.415, 0.020, 0.051, 0.007, 0.223, 0.004, 0.056, 0.073]


def test_error_hierarchy() -> None:
    assert issubclass(MetaAnalysisError, ValueError)
    assert issubclass(ConvergenceError, MetaAnalysisError)
    assert issubclass(InputError, MetaAnalysisError)


def test_k1_gives_the_study_itself() -> None:
    res = rma([0.5], [0.04], test="knha")
    assert res.test == "z"  # metafor switches to z when k = 1
    assert res.estimate == 0.5 and res.se[0] == pytest.approx(0.2)
    assert (res.tau2, res.QE, res.QEp, res.I2, res.H2) == (0.0, 0.0, 1.0, 0.0, 1.0)
    pr = predict(res)
    assert (pr.pi_lb, pr.pi_ub) == (pytest.approx(res.ci_lb[0]), pytest.approx(res.ci_ub[0]))
    for analysis in (confint_tau2, leave1out, influence, trimfill, regtest, cumulative):
        with pytest.raises(MetaAnalysisError, match="k = 1|2 studies"):
            analysis(res)


def test_k2_fits_but_egger_needs_three() -> None:
    res = rma(YI[:2], VI[:2])
    assert res.k == 2 and math.isfinite(res.tau2)
    with pytest.raises(MetaAnalysisError, match="too few studies"):
        regtest(res)
    loo = leave1out(res)  # each fit has a single study: estimate = that study
    assert loo["estimate"].tolist() == [YI[1], YI[0]]


def test_homogeneous_data_gives_tau2_zero() -> None:
    y = [0.10, 0.12, 0.09, 0.11, 0.10]
    v = [0.01, 0.02, 0.015, 0.01, 0.02]
    for method in ("REML", "ML", "DL", "PM", "HE", "SJ"):
        res = rma(y, v, method=method)
        if method != "SJ":  # SJ is positive by construction
            assert res.tau2 == 0.0
            assert res.I2 == 0.0 and res.H2 == 1.0
            pr = predict(res)
            assert (pr.pi_lb, pr.pi_ub) == (res.ci_lb[0], res.ci_ub[0])
    ci = confint_tau2(rma(y, v))
    assert (ci.tau2_lb, ci.tau2_ub) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("yi", "vi", "column", "index", "problem"),
    [
        ([0.1, 0.2, 0.3], [0.1, 0.0, 0.1], "vi", 1, "variance must be positive, got 0"),
        ([0.1, 0.2, 0.3], [0.1, 0.1, -0.2], "vi", 2, "variance must be positive, got -0.20000000000000001"),
        ([0.1, math.nan, 0.3], [0.1, 0.1, 0.1], "yi", 1, "missing value"),
        ([0.1, 0.2, 0.3], [math.inf, 0.1, 0.1], "vi", 0, "infinite value"),
    ],
)
def test_bad_values_name_column_and_index(
    yi: list[float], vi: list[float], column: str, index: int, problem: str
) -> None:
    with pytest.raises(InputError) as err:
        rma(yi, vi)
    assert (err.value.column, err.value.index, err.value.problem) == (column, index, problem)
    assert str(err.value) == f"{column}[{index}]: {problem}"


def test_shape_and_option_errors() -> None:
    with pytest.raises(MetaAnalysisError, match="differ in length"):
        rma([1, 2, 3], [1, 1])
    with pytest.raises(MetaAnalysisError, match="k = 0"):
        rma([], [])
    with pytest.raises(MetaAnalysisError, match="unknown method"):
        rma(YI, VI, method="FOO")
    with pytest.raises(MetaAnalysisError, match="unknown test"):
        rma(YI, VI, test="t")


def test_non_convergence_is_reported() -> None:
    with pytest.raises(ConvergenceError, match="did not converge"):
        rma(YI, VI, method="REML", control=Control(maxiter=1, threshold=1e-15))
    with pytest.raises(ConvergenceError):
        rma(YI, VI, method="ML", control=Control(maxiter=1, threshold=1e-15))


def test_leave1out_non_convergence_gives_nan_and_warning() -> None:
    res = rma(YI, VI)
    bad = res.__class__(**{**res.__dict__, "control": Control(maxiter=1, threshold=1e-15)})
    with pytest.warns(UserWarning, match="failed") as record:
        loo = leave1out(bad)
    assert loo["estimate"].isna().all()
    assert len(record) == 1  # one warning naming the studies, not a second one per fit index


def test_pm_search_bound_too_low() -> None:
    with pytest.raises(MetaAnalysisError, match="tau2_max"):
        rma(YI, VI, method="PM", control=Control(tau2_max=1e-6))


def test_meta_regression_needs_full_rank_and_enough_studies() -> None:
    x = np.arange(10.0)
    with pytest.raises(MetaAnalysisError, match="full rank"):
        rma(YI, VI, mods=np.column_stack([x, 2 * x]))
    with pytest.raises(MetaAnalysisError, match="full rank"):
        rma(YI, VI, mods=np.ones(10))
    with pytest.raises(MetaAnalysisError, match="too few studies"):
        rma(YI[:3], VI[:3], mods=np.column_stack([x[:3], x[:3] ** 2]))
    with pytest.raises(InputError, match="moderator 1"):
        rma(YI, VI, mods=np.where(x == 4, np.nan, x))


def test_vectorised_leave1out_equals_refitting() -> None:
    rng = np.random.default_rng(1)
    v = rng.uniform(0.01, 0.2, 40)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    for method in ("REML", "ML"):
        for test in ("z", "knha"):
            res = rma(y, v, method=method, test=test, control=Control(threshold=1e-12))
            loo = leave1out(res)
            for i in (0, 17, 39):
                ref = rma(np.delete(y, i), np.delete(v, i), method=method, test=test,
                          control=Control(threshold=1e-12))  # fmt: skip
                row = loo.iloc[i]
                assert row["estimate"] == pytest.approx(ref.estimate, rel=1e-11)
                assert row["tau2"] == pytest.approx(ref.tau2, rel=1e-9, abs=1e-12)
                assert row["se"] == pytest.approx(ref.se[0], rel=1e-11)
                assert row["Q"] == pytest.approx(ref.QE, rel=1e-11)
                assert row["I2"] == pytest.approx(ref.I2, rel=1e-9, abs=1e-10)


@pytest.mark.parametrize("case", ["ordinary", "dominant", "homogeneous", "spread"])
def test_downdated_leave1out_equals_refitting(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave-one-out sums are downdated in O(k) (meta.downdate); fits whose left-out study owns
    over half of a sum are summed directly. Both agree with separate fits to rounding."""
    from livingreview.meta import fisher

    rng = np.random.default_rng(11)
    k = 60
    v = rng.uniform(0.01, 0.2, k)
    y = rng.normal(0.3, np.sqrt(v + (0.0 if case == "homogeneous" else 0.08)))
    if case == "dominant":
        v[7] = 1e-6  # study 7 holds nearly all the weight: its own fit cannot be downdated
    elif case == "spread":
        v = v * 10.0 ** rng.uniform(-3, 3, k)
    direct: list[int] = []
    real = fisher.Fits._direct

    def counted(self: fisher.Fits, tau2: np.ndarray, rows: np.ndarray) -> fisher.Sums:
        direct.extend(rows.tolist())
        return real(self, tau2, rows)

    monkeypatch.setattr(fisher.Fits, "_direct", counted)
    res = rma(y, v, control=Control(threshold=1e-13))
    loo = leave1out(res)
    if case == "dominant":
        assert 7 in direct
    elif case == "ordinary":
        assert direct == []  # every fit downdated
    for i in range(k):
        ref = rma(np.delete(y, i), np.delete(v, i), control=Control(threshold=1e-13))
        row = loo.iloc[i]
        scale = float(np.mean(np.delete(v, i)))
        assert row["tau2"] == pytest.approx(ref.tau2, rel=1e-10, abs=1e-14 * scale), i
        assert row["estimate"] == pytest.approx(ref.estimate, rel=1e-11, abs=1e-14), i
        assert row["se"] == pytest.approx(ref.se[0], rel=1e-11), i
        assert row["Q"] == pytest.approx(ref.QE, rel=1e-11), i
        assert row["pval"] == pytest.approx(ref.pval[0], rel=1e-10), i


@pytest.mark.parametrize("seed", [110, 146, 165])
def test_cumulative_fits_with_a_dominant_study_converge(seed: int) -> None:
    """One study with nearly all the weight makes a batch's score noisy at ~1e-12: Newton's steps
    stop shrinking above the 1e-13 threshold. Exact control stops there (fisher.STALL) instead of
    running to maxiter and reporting the fit as not converged."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 0.3, 25)
    y = rng.normal(0.2, np.sqrt(v + 0.05))
    v[int(rng.integers(25))] *= 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "did not converge"
        cum = cumulative(rma(y, v))
    for n in range(1, 26):
        ref = rma(y[:n], v[:n])
        assert cum["tau2"][n - 1] == pytest.approx(ref.tau2, rel=1e-9, abs=1e-15), n
        assert cum["estimate"][n - 1] == pytest.approx(ref.estimate, rel=1e-9), n


def test_zeroin_matches_r_uniroot_bit_for_bit() -> None:
    # R: uniroot(function(x) x^3 - 2*x - 5, c(0, 3))$root
    def f(x: float) -> float:
        return x**3 - 2 * x - 5

    assert zeroin(f, 0.0, 3.0, f(0.0), f(3.0), EPS**0.25, 1000) == (2.0945758308493767, True)

    # R: uniroot(function(x) exp(x) - 10, c(-5, 5), tol = 1e-3)$root
    def g(x: float) -> float:
        return math.exp(x) - 10

    assert zeroin(g, -5.0, 5.0, g(-5.0), g(5.0), 1e-3, 1000) == (2.302423401952427, True)
    assert not zeroin(g, -5.0, 5.0, g(-5.0), g(5.0), 1e-15, 2)[1]


def test_fisher_z_helpers() -> None:
    yi, vi = fisher_z([0.3, -0.5], [28, 103])
    assert yi == pytest.approx(np.arctanh([0.3, -0.5]))
    assert vi == pytest.approx([1 / 25, 1 / 100])
    assert fisher_z_inverse(yi) == pytest.approx([0.3, -0.5])
    with pytest.raises(MetaAnalysisError, match="between -1 and 1"):
        fisher_z([1.0], [50])
    with pytest.raises(MetaAnalysisError, match="exceed 3"):
        fisher_z([0.2], [3])


def test_moderator_matrix_codes_factors_like_r() -> None:
    df = pd.DataFrame({"dose": [1.0, 2.0, 3.0], "arm": ["b", "a", "c"]})
    X, names = moderator_matrix(df, ["dose", "arm"])
    assert names == ["dose", "armb", "armc"]
    assert X.tolist() == [[1, 1, 0], [2, 0, 0], [3, 0, 1]]
    with pytest.raises(MetaAnalysisError, match="no column"):
        moderator_matrix(df, ["nope"])
    with pytest.raises(MetaAnalysisError, match="single level"):
        moderator_matrix(df.assign(arm="a"), ["arm"])


def test_subgroup_analysis_needs_two_groups() -> None:
    with pytest.raises(MetaAnalysisError, match="two subgroups"):
        subgroup_analysis(YI, VI, ["a"] * 10)
    res = subgroup_analysis(YI, VI, ["a", "b"] * 5)
    assert res.groups == ("a", "b") and res.df == 1 and 0 <= res.pval <= 1


def test_extreme_variance_ratio_warns() -> None:
    with pytest.warns(UserWarning, match="extremely large"):
        rma([0.1, 0.2, 0.3], [1e-9, 0.1, 100.0])


def test_knha_uses_t_with_k_minus_p_df() -> None:
    z = rma(YI, VI)
    t = rma(YI, VI, test="knha")
    assert t.ddf == 9 and z.ddf is None
    assert t.se[0] == pytest.approx(z.se[0] * math.sqrt(t.s2w))
    pr = predict(t)
    from scipy import stats

    crit = stats.t.isf(0.025, 9)
    assert pr.pi_ub - pr.pred == pytest.approx(crit * math.sqrt(t.se[0] ** 2 + t.tau2))


def test_results_do_not_depend_on_warnings_filter() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rma(YI, VI)  # a clean fit raises no warning at all
