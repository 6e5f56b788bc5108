"""livingreview.meta.models against R metafor 3.8 (tests/reference/metafor_reference.json; no R needed).

Values must agree to 1e-9 relative (absolute near zero, scaled to the data), p-values to 1e-6, and every
analysis metafor refuses must be refused here with a MetaAnalysisError.
"""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from livingreview.meta.models import Control, rma
from livingreview.meta.validation import (
    Comparison,
    comparisons,
    fit_comparisons,
    load_reference,
    metareg_comparisons,
)

REF_PATH = Path(__file__).parent / "reference" / "metafor_reference.json"
REF = load_reference(REF_PATH)
FIT_CASES = [
    pytest.param(name, i, id=f"{name}-{rec['method']}-{rec['test']}-{rec['control']}")
    for name, data in REF["datasets"].items()
    for i, rec in enumerate(data["fits"])
]
METAREG_CASES = [
    pytest.param(name, i, id=f"{name}-{'+'.join(rec['mods'])}-{rec['method']}-{rec['test']}")
    for name, data in REF["datasets"].items()
    for i, rec in enumerate(data.get("metareg", []))
]


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _report(bad: list[Comparison]) -> str:
    return "\n".join(
        f"{c.group}/{c.quantity}: ours={c.actual!r} metafor={c.expected!r} diff={c.diff:.2e}"
        for c in bad[:20]
    )


@pytest.mark.parametrize(("name", "index"), FIT_CASES)
def test_model_and_derived_analyses_match_metafor(name: str, index: int) -> None:
    data = REF["datasets"][name]
    comps = list(fit_comparisons(name, data, data["fits"][index]))
    assert comps, "no comparison made"
    bad = [c for c in comps if not c.ok]
    assert not bad, _report(bad)


@pytest.mark.parametrize(("name", "index"), METAREG_CASES)
def test_meta_regression_matches_metafor(name: str, index: int) -> None:
    data = REF["datasets"][name]
    comps = list(metareg_comparisons(name, data, data["metareg"][index]))
    bad = [c for c in comps if not c.ok]
    assert comps and not bad, _report(bad)


@pytest.fixture(scope="module")
def all_comparisons() -> list[Comparison]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(comparisons(REF))


def test_subgroups_and_fisher_z_match_metafor(all_comparisons: list[Comparison]) -> None:
    comps = [c for c in all_comparisons if c.group.startswith(("subgroup", "fisher_z"))]
    assert {c.group for c in comps} == {"subgroup alloc", "fisher_z"}
    bad = [c for c in comps if not c.ok]
    assert not bad, _report(bad)


def test_reference_covers_every_analysis(all_comparisons: list[Comparison]) -> None:
    assert len(all_comparisons) > 40_000
    assert all(c.ok for c in all_comparisons)
    groups = {c.group for c in all_comparisons}
    for g in ("model", "confint", "leave1out", "cumul", "rstudent", "cooks", "regtest",
              "trimfill", "metareg ~ablat", "metareg ~alloc", "subgroup alloc", "fisher_z"):  # fmt: skip
        assert g in groups
    assert {"bcg_milli", "bcg_kilo", "bcg_shifted"} <= set(REF["datasets"])  # other units and origin
    methods = {rec["method"] for d in REF["datasets"].values() for rec in d["fits"]}
    assert methods == {"REML", "ML", "DL", "PM", "HE", "SJ", "EE"}
    assert REF["metafor_version"].startswith("3.8")


def test_literal_bcg_reml_values() -> None:
    """Independent of the comparison engine: dat.bcg REML, metafor's printed output."""
    d = REF["datasets"]["bcg"]
    res = rma(d["yi"], d["vi"])
    assert res.estimate == pytest.approx(-0.7145323421581, rel=1e-10)
    assert res.se[0] == pytest.approx(0.1797815161052, rel=1e-10)
    assert res.tau2 == pytest.approx(0.3132432581365, rel=1e-10)
    assert math.isclose(res.QE, 152.2330080824, rel_tol=1e-10)


def test_default_control_reproduces_metafor_iterations() -> None:
    """With metafor's default threshold 1e-5 the loose answer itself must match (same steps)."""
    d = REF["datasets"]["bcg"]
    rec = next(r for r in d["fits"] if r["control"] == "default" and r["method"] == "REML")
    loose = rma(d["yi"], d["vi"], control="metafor").tau2
    exact = rma(d["yi"], d["vi"]).tau2
    assert loose == pytest.approx(rec["fit"]["tau2"], rel=1e-12)
    assert abs(loose - exact) > 1e-8 * exact  # the loose fit really stopped early (metafor's rule)
    assert rma(d["yi"], d["vi"], control=Control.metafor()).tau2 == loose


def test_comparison_detects_a_perturbed_reference() -> None:
    ref = copy.deepcopy(REF)
    rec = ref["datasets"]["bcg"]["fits"][0]
    rec["fit"]["estimate"] *= 1 + 2e-9
    rec["leave1out"]["tau2"][3] *= 1 + 2e-9
    rec["fit"]["pval"] *= 1 + 2e-6
    bad = {(c.group, c.quantity) for c in fit_comparisons("bcg", ref["datasets"]["bcg"], rec)
           if not c.ok}  # fmt: skip
    assert bad == {("model", "estimate"), ("leave1out", "tau2[3]"), ("model", "pval")}


def test_comparison_detects_a_missing_refusal() -> None:
    ref = copy.deepcopy(REF)
    rec = ref["datasets"]["bcg"]["fits"][0]
    rec["regtest"] = {"error": "pretend metafor refused"}
    comps = [c for c in fit_comparisons("bcg", ref["datasets"]["bcg"], rec) if c.group == "regtest"]
    assert len(comps) == 1 and not comps[0].ok


def test_tolerance_rules() -> None:
    base = ("d", "REML", "z", "g", "q")
    assert Comparison(*base, 1.0 + 0.9e-9, 1.0).ok
    assert not Comparison(*base, 1.0 + 1.1e-9, 1.0).ok
    assert Comparison(*base, 0.9e-11, 0.0).ok  # absolute floor near zero: 0.01 × 1e-9 × unit
    assert not Comparison(*base, 1.1e-11, 0.0).ok
    assert Comparison(*base, 0.9e-17, 0.0, "value", 1e-6).ok  # the floor scales with the data
    assert not Comparison(*base, 1.1e-17, 0.0, "value", 1e-6).ok
    assert Comparison(*base, 0.5 * (1 + 0.9e-6), 0.5, "pvalue").ok
    assert not Comparison(*base, 0.5 * (1 + 1.1e-6), 0.5, "pvalue").ok
    assert Comparison(*base, math.nan, None).ok
    assert not Comparison(*base, 1.0, None).ok
    assert not Comparison(*base, math.nan, 1.0).ok


def test_inputs_in_reference_are_metafor_escalc() -> None:
    d = REF["datasets"]["molloy2014"]
    yi, vi = np.array(d["yi"]), np.array(d["vi"])
    assert np.allclose(np.tanh(yi), d["ri"], rtol=0, atol=1e-15)
    assert np.allclose(vi, 1 / (np.array(d["ni"]) - 3), rtol=1e-15)
