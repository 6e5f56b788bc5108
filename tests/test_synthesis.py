"""Effect-direction synthesis: study-level direction rule, sign test, pooling assessment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from livingreview.synthesis.domains import (
    assess_pooling,
    favourable_r,
    sign_test,
    study_direction,
    summarise_domains,
)


@pytest.mark.parametrize(
    ("directions", "expected"),
    [
        (["positive"], "positive"),
        (["positive", "positive", "positive", "null"], "positive"),  # 75% ≥ 70%
        (["positive", "null"], "mixed"),  # tie
        (["positive", "positive", "null"], "mixed"),  # 67% < 70%
        (["null", "null"], "null"),
        (["negative", "negative", "negative", "negative", "positive"], "negative"),
    ],
)
def test_study_direction_rule(directions: list[str], expected: str) -> None:
    assert study_direction(directions) == expected


def test_study_direction_needs_an_association() -> None:
    with pytest.raises(ValueError):
        study_direction([])


def test_sign_test_matches_binomial() -> None:
    assert sign_test(0, 0) is None
    assert sign_test(5, 0) == pytest.approx(0.0625)
    assert sign_test(3, 3) == pytest.approx(1.0)
    assert sign_test(9, 1) == pytest.approx(0.021484375)


def test_sign_test_agrees_with_scipy_binomtest() -> None:
    """The exact integer sum agrees with scipy's binomial test at p = 1/2 for every split up to n = 80."""
    from scipy.stats import binomtest

    for n in range(1, 81):
        for positive in range(n + 1):
            expected = binomtest(positive, n, 0.5).pvalue
            assert sign_test(positive, n - positive) == pytest.approx(expected, rel=1e-12, abs=0), (
                positive,
                n,
            )


def test_synthesis_does_not_import_scipy_stats() -> None:
    """scipy.stats takes about a second to import; a kernel computing the synthesis must not need it."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom livingreview.synthesis.domains import sign_test, summarise_domains\n"
        "sign_test(3, 0)\nprint('scipy.stats' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def effects(rows: list[tuple]) -> pd.DataFrame:
    cols = [
        "effect_id",
        "study_id",
        "outcome_domain",
        "direction",
        "n",
        "r",
        "r_derived",
        "outcome_higher_is_better",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    frame["r"] = frame["r"].astype("Float64")
    frame["r_derived"] = frame["r_derived"].astype("Float64")
    frame["n"] = frame["n"].astype("Int64")
    return frame


def test_summary_counts_studies_not_associations() -> None:
    e = effects(
        [
            ("A-1", "A", "symptoms", "positive", 10, None, None, ""),
            ("A-2", "A", "symptoms", "positive", 10, None, None, ""),
            ("B-1", "B", "symptoms", "null", 20, None, None, ""),
            ("C-1", "C", "adherence", "negative", None, None, None, ""),
        ]
    )
    symptoms, adherence = summarise_domains(e, ["symptoms", "adherence"])
    assert (symptoms.k, symptoms.n_studies, symptoms.positive, symptoms.null) == (3, 2, 1, 1)
    assert symptoms.sign_p == pytest.approx(1.0)
    assert (adherence.negative, adherence.decisive) == (1, 1)


def test_favourable_r_flips_when_higher_outcome_is_worse() -> None:
    e = effects(
        [
            ("A-1", "A", "symptoms", "positive", 24, -0.65, None, "no"),
            ("B-1", "B", "adherence", "positive", None, None, 0.5, "yes"),
            ("C-1", "C", "symptoms", "null", None, None, None, ""),
        ]
    )
    assert favourable_r(e).tolist()[:2] == pytest.approx([0.65, 0.5])
    assert pd.isna(favourable_r(e).iloc[2])


def test_pooling_needs_two_studies_with_a_correlation() -> None:
    e = effects(
        [
            ("A-1", "A", "symptoms", "positive", 24, 0.3, None, "yes"),
            ("A-2", "A", "symptoms", "positive", 24, 0.2, None, "yes"),
            ("B-1", "B", "symptoms", "positive", 30, None, 0.4, "yes"),
            ("C-1", "C", "adherence", "positive", 30, 0.4, None, "yes"),
        ]
    )
    symptoms, adherence = assess_pooling(e, ["symptoms", "adherence"])
    assert (symptoms.n_studies_any, symptoms.n_studies_printed, symptoms.possible) == (2, 1, True)
    assert adherence.possible is False


def test_pool_domain_matches_the_engine_on_study_means() -> None:
    from livingreview.meta.models import predict, rma
    from livingreview.synthesis.domains import pool_domain

    e = effects(
        [
            ("A-1", "A", "symptoms", "positive", 40, 0.3, None, "yes"),
            ("A-2", "A", "symptoms", "positive", 40, 0.5, None, "yes"),
            ("B-1", "B", "symptoms", "positive", 60, None, 0.1, "yes"),
            ("C-1", "C", "symptoms", "positive", 80, -0.2, None, "no"),
        ]
    )
    pooled = pool_domain(e, "symptoms")
    z = np.array([np.mean(np.arctanh([0.3, 0.5])), np.arctanh(0.1), np.arctanh(0.2)])
    fit = rma(z, 1 / (np.array([40, 60, 80]) - 3), method="REML", test="knha")
    pred = predict(fit)
    assert pooled is not None and pooled.k == 3
    assert pooled.r == pytest.approx(np.tanh(fit.estimate))
    assert (pooled.ci_lb, pooled.pi_ub) == pytest.approx((np.tanh(pred.ci_lb), np.tanh(pred.pi_ub)))
    printed_only = pool_domain(e, "symptoms", include_derived=False)
    assert printed_only is not None and printed_only.k == 2
    assert pool_domain(e[e["study_id"] == "A"], "symptoms") is None
