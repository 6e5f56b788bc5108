"""The engine against exact answers: 50-digit references, invariances, and metafor's control only on request.

``tests/reference/exact_reference.json`` is written by ``exact_reference.py`` (mpmath); the
property tests below also solve small random problems with mpmath on the fly.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livingreview.meta.models import Control, confint_tau2, predict, rma
from livingreview.meta.sensitivity import cumulative, leave1out
from livingreview.meta.validation import EXACT_REFERENCE, exact_comparisons, load_reference

REF = load_reference(EXACT_REFERENCE)
METAFOR = load_reference(Path(__file__).parent / "reference" / "metafor_reference.json")
_spec = importlib.util.spec_from_file_location(
    "exact_reference", Path(__file__).parent / "reference" / "exact_reference.py"
)
assert _spec and _spec.loader
exact = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(exact)

PROPERTY = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def test_every_quantity_agrees_with_the_50_digit_reference() -> None:
    comps = list(exact_comparisons(REF))
    assert len(comps) > 1000
    bad = [c for c in comps if not c.ok]
    assert not bad, [(c.dataset, c.method, c.test, c.quantity, c.actual, c.expected) for c in bad[:10]]
    assert max(c.diff for c in comps) < 1e-11  # far inside the 1e-9 requirement
    groups = {c.group for c in comps}
    assert groups == {"model", "confint", "leave1out", "cumul"}
    assert {c.method for c in comps} == {"REML", "ML", "PM", "DL"}


def test_metafor_defaults_only_when_asked() -> None:
    """In milli-units metafor's absolute rules stop early; our default does not, control='metafor' does."""
    d = METAFOR["datasets"]["bcg_milli"]
    truth = REF["datasets"]["bcg_milli"]["fits"]
    for method in ("REML", "PM"):
        rec = next(r for r in d["fits"] if (r["method"], r["test"], r["control"]) == (method, "z", "default"))
        ours = rma(d["yi"], d["vi"], method=method)
        loose = rma(d["yi"], d["vi"], method=method, control="metafor")
        assert ours.tau2 == pytest.approx(truth[method]["tau2"], rel=1e-12)
        assert loose.tau2 == pytest.approx(rec["fit"]["tau2"], rel=1e-12)  # metafor's own answer
        assert abs(loose.tau2 - truth[method]["tau2"]) > 1e-4 * truth[method]["tau2"]  # ... is off


def _data(seed: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.005, 0.3, k) * rng.choice([1.0, 10.0], k)
    y = rng.normal(0.3, np.sqrt(v + rng.choice([0.0, 0.02, 0.2])))
    return y, v


def _close(a: float, b: float, unit: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(abs(b), 0.01 * unit)


def _summary(y: np.ndarray, v: np.ndarray, method: str, test: str) -> dict[str, float]:
    fit = rma(y, v, method=method, test=test)
    pr = predict(fit)
    ci = confint_tau2(fit)
    return {"estimate": fit.estimate, "se": fit.se[0], "ci_lb": fit.ci_lb[0], "ci_ub": fit.ci_ub[0],
            "pi_lb": pr.pi_lb, "pi_ub": pr.pi_ub, "tau2": fit.tau2, "tau2_lb": ci.tau2_lb,
            "tau2_ub": ci.tau2_ub, "Q": fit.QE, "I2": fit.I2, "zval": fit.zval[0]}  # fmt: skip


LOCATION = {"estimate", "se", "ci_lb", "ci_ub", "pi_lb", "pi_ub"}
VARIANCE = {"tau2", "tau2_lb", "tau2_ub"}
METHODS = st.sampled_from(["REML", "ML", "PM", "DL"])
TESTS = st.sampled_from(["z", "knha"])


@PROPERTY
@given(seed=st.integers(0, 10_000), k=st.integers(3, 40), e=st.floats(-6, 6), method=METHODS, test=TESTS)
def test_invariant_to_units(seed: int, k: int, e: float, method: str, test: str) -> None:
    """yi → c·yi, vi → c²·vi for c in 1e-6..1e6: locations scale by c, tau² by c², the rest stays."""
    y, v = _data(seed, k)
    c = 10.0**e
    base, scaled = _summary(y, v, method, test), _summary(y * c, v * c * c, method, test)
    unit = math.sqrt(float(v.mean()))
    for key, value in base.items():
        factor = c if key in LOCATION else c * c if key in VARIANCE else 1.0
        assert _close(scaled[key] / factor, value, unit if key in LOCATION else unit**2), key


@PROPERTY
@given(seed=st.integers(0, 10_000), k=st.integers(3, 40), e=st.floats(-6, 6), sign=st.sampled_from([-1, 1]),
       method=METHODS, test=TESTS)  # fmt: skip
def test_invariant_to_origin(seed: int, k: int, e: float, sign: int, method: str, test: str) -> None:
    """yi → yi + c for |c| in 1e-6..1e6: locations shift by c, everything else stays."""
    y, v = _data(seed, k)
    c = sign * 10.0**e
    shifted = y + c
    back = shifted - c  # the same numbers the shifted fit sees, at the origin
    base, moved = _summary(back, v, method, test), _summary(shifted, v, method, test)
    unit = math.sqrt(float(v.mean()))
    for key, value in base.items():
        if key == "zval":
            continue  # z = estimate / se depends on the origin
        got = moved[key] - c if key in LOCATION - {"se"} else moved[key]
        # A location computed at magnitude |c| is resolved only to a few ulps of c.
        ulps = 8 * np.finfo(float).eps * abs(c) if key in LOCATION - {"se"} else 0.0
        assert _close(got, value, unit if key in LOCATION else unit**2) or abs(got - value) <= ulps, key


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), k=st.integers(3, 8), e=st.floats(-4, 4))
def test_random_data_agree_with_mpmath(seed: int, k: int, e: float) -> None:
    y, v = _data(seed, k)
    c = 10.0**e
    y, v = y * c, v * c * c
    ym, vm = [mp.mpf(float(x)) for x in y], [mp.mpf(float(x)) for x in v]
    for method in ("REML", "PM"):
        want = exact.fit(ym, vm, method)
        got = rma(y, v, method=method)
        assert _close(got.tau2, float(want["tau2"]), c * c * float(v.mean()) / c / c)
        assert _close(got.estimate, float(want["z"]["estimate"]), math.sqrt(float(v.mean())))
    ci = confint_tau2(rma(y, v))
    want_ci = exact.qprofile(ym, vm)
    assert _close(ci.tau2_lb, float(want_ci["tau2_lb"]), float(v.mean()))
    assert _close(ci.tau2_ub, float(want_ci["tau2_ub"]), float(v.mean()))


def test_batches_equal_one_at_a_time_fits() -> None:
    y, v = _data(7, 25)
    order = np.random.default_rng(3).permutation(25)
    for method in ("REML", "ML"):
        for test in ("z", "knha"):
            fit = rma(y, v, method=method, test=test)
            loo, cum = leave1out(fit), cumulative(fit, order)
            idx = np.argsort(order, kind="stable")
            for i in (0, 11, 24):
                ref = rma(np.delete(y, i), np.delete(v, i), method=method, test=test)
                assert loo["tau2"][i] == pytest.approx(ref.tau2, rel=1e-11, abs=1e-15)
                assert loo["ci_lb"][i] == pytest.approx(ref.ci_lb[0], rel=1e-11)
            for n in (2, 13, 25):
                ref = rma(y[idx[:n]], v[idx[:n]], method=method, test=test)
                assert cum["tau2"][n - 1] == pytest.approx(ref.tau2, rel=1e-11, abs=1e-15)
                assert cum["ci_ub"][n - 1] == pytest.approx(ref.ci_ub[0], rel=1e-11)
                assert cum["pval"][n - 1] == pytest.approx(ref.pval[0], rel=1e-9)


def test_boundary_is_exactly_zero_and_iterations_are_counted() -> None:
    y = np.array([0.10, 0.12, 0.09, 0.11, 0.10]) * 1e-4
    v = np.array([0.01, 0.02, 0.015, 0.01, 0.02]) * 1e-8
    for method in ("REML", "ML", "PM"):
        assert rma(y, v, method=method).tau2 == 0.0
    bcg = METAFOR["datasets"]["bcg"]
    assert rma(bcg["yi"], bcg["vi"], method="PM").iterations > 0
    assert rma(bcg["yi"], bcg["vi"]).iterations > rma(bcg["yi"], bcg["vi"], control="metafor").iterations


def test_statsmodels_wls_checks_meta_regression_at_fixed_tau2() -> None:
    """Independent check: at the fitted tau², β is the WLS solution; Knapp–Hartung SEs are WLS SEs."""
    import statsmodels.api as sm

    d = METAFOR["datasets"]["bcg"]
    X = np.column_stack([d["moderators"]["ablat"], d["moderators"]["year"]])
    for test in ("z", "knha"):
        fit = rma(d["yi"], d["vi"], mods=X, test=test)
        wls = sm.WLS(
            np.asarray(d["yi"]), sm.add_constant(X), weights=1 / (np.asarray(d["vi"]) + fit.tau2)
        ).fit()
        assert fit.beta == pytest.approx(wls.params, rel=1e-9)
        se = wls.bse if test == "knha" else wls.bse / math.sqrt(wls.scale)
        assert fit.se == pytest.approx(se, rel=1e-9)


def test_cooks_distance_is_invariant_to_centring_moderators() -> None:
    """Our Cook's distances do not depend on the origin of the moderators (metafor's vary by ~1e-8)."""
    from livingreview.meta.sensitivity import influence

    d = METAFOR["datasets"]["bcg"]
    X = np.column_stack([d["moderators"]["ablat"], d["moderators"]["year"]]).astype(float)
    raw = influence(rma(d["yi"], d["vi"], mods=X, method="EE"))["cooks_distance"].to_numpy()
    centred = influence(rma(d["yi"], d["vi"], mods=X - X.mean(0), method="EE"))["cooks_distance"].to_numpy()
    assert raw == pytest.approx(centred, rel=1e-10)


def test_control_metafor_settings() -> None:
    con = Control.metafor()
    assert (con.threshold, con.maxiter, con.exact) == (1e-5, 100, False)
    assert Control.of("metafor") == con and Control.of(None) == Control() == Control.of("exact")
