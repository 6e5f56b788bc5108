"""Synthesis without meta-analysis (SWiM): effect direction per study and outcome domain, sign tests.

The unit of the sign test is the study within an outcome domain, not the association, so that a
study reporting several associations counts once (Boon & Thomson's effect-direction rule: a
study's direction is the one shared by at least 70% of its associations in that domain,
otherwise it is "mixed").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from livingreview.data.dataset import DOMAINS

DIRECTIONS = ("positive", "null", "negative", "mixed", "unclear")
AGREEMENT = 0.7
# Which direction provenances count as a direction in each analysis (see ``vote``).
STATED = ("printed_statistic", "stated_in_words")
PROVENANCE = {
    "stated": STATED,
    "printed": ("printed_statistic",),
    "all": (*STATED, "inferred"),
}


def vote(effects: pd.DataFrame, signs: str = "stated") -> pd.Series:
    """Each association's vote in the effect-direction count.

    ``positive``/``negative`` where the direction comes from a provenance that ``signs`` admits
    (``stated``: printed or stated in words, the primary analysis; ``printed``: printed statistics
    only; ``all``: also directions we inferred); ``mixed`` for rows reporting both; otherwise
    ``null`` when the source reports no significant association and ``unclear`` when it reports
    one without a direction we may use. Data without provenance (older releases) count as stated.
    """
    if effects.empty:
        return pd.Series([], dtype=object, index=effects.index)
    direction = effects["direction"].fillna("").astype(str)
    source = (
        effects["direction_source"].fillna("none").astype(str)
        if "direction_source" in effects
        else pd.Series("printed_statistic", index=effects.index)
    )
    significant = effects.get("significant", pd.Series("", index=effects.index)).fillna("").astype(str)
    signed = direction.isin(("positive", "negative")) & source.isin(PROVENANCE[signs])
    out = pd.Series("unclear", index=effects.index, dtype=object)
    out[(significant == "no") | (direction == "null")] = "null"
    out[direction == "mixed"] = "mixed"
    out[signed] = direction[signed]
    return out


def study_direction(directions: Sequence[str]) -> str:
    """Direction of one study in one domain from the directions of its associations."""
    counts = Counter(directions).most_common()
    if not counts:
        raise ValueError("a study needs at least one association")
    top, top_n = counts[0]
    if len(counts) > 1 and counts[1][1] == top_n:
        return "mixed"
    return str(top) if top_n / sum(n for _, n in counts) >= AGREEMENT else "mixed"


def _study_votes(effects: pd.DataFrame, signs: str) -> dict[tuple[object, object], list[str]]:
    """Each study × domain's votes (``vote``), in one pass; rows without a key drop out, as in a groupby."""
    votes: dict[tuple[object, object], list[str]] = {}
    if len(effects):
        keys = zip(effects["study_id"], effects["outcome_domain"], strict=True)
        for key, direction in zip(keys, vote(effects, signs), strict=True):
            if not (pd.isna(key[0]) or pd.isna(key[1])):
                votes.setdefault(key, []).append(direction)
    return votes


def study_directions(effects: pd.DataFrame, signs: str = "stated") -> pd.DataFrame:
    """One row per study × outcome domain with its direction, associations and largest N."""
    # Called for every subset of every analysis: it avoids pandas work per group or per column.
    grouped = effects.groupby(["study_id", "outcome_domain"], sort=True)["n"]
    out = grouped.agg(["size", "max"]).rename(columns={"size": "k", "max": "n"}).reset_index()
    out["k"] = out["k"].astype("int64")  # a count (size of an Int64 column comes back as Int64)
    votes = _study_votes(effects, signs)
    keys = zip(out["study_id"], out["outcome_domain"], strict=True)
    out.insert(3, "direction", pd.Series([study_direction(votes[key]) for key in keys], index=out.index))
    columns = [c for c in ("arm_relevance", "n_analysed", "year", "diagnosis") if c in effects]
    extra = effects[["study_id", *columns]].drop_duplicates("study_id").set_index("study_id")
    for column in columns:
        out[column] = out["study_id"].map(extra[column])
    if "n_analysed" in out:
        out["n"] = out["n"].fillna(out["n_analysed"])
    return out


@dataclass(frozen=True)
class DomainSummary:
    """Effect-direction counts for one outcome domain (studies as the unit) and its sign test."""

    domain: str
    k: int
    n_studies: int
    positive: int
    null: int
    negative: int
    mixed: int
    sign_p: float | None
    unclear: int = 0

    @property
    def decisive(self) -> int:
        return self.positive + self.negative


def sign_test(positive: int, negative: int) -> float | None:
    """Two-sided exact sign test of positive vs negative directions (None when both are zero).

    The binomial test at p = 1/2 (what ``scipy.stats.binomtest`` computes), summed exactly in
    integers: the distribution is symmetric, so the two-sided p is twice the smaller tail, at most 1.
    (scipy.stats is not imported: it costs most of a kernel's start-up.)
    """
    n = positive + negative
    if n == 0:
        return None
    tail = sum(math.comb(n, i) for i in range(min(positive, negative) + 1))
    return min(1.0, 2 * tail / 2**n)


def summarise_domains(
    effects: pd.DataFrame, domains: Sequence[str] = DOMAINS, signs: str = "stated"
) -> list[DomainSummary]:
    """Effect-direction summary per domain for the given associations (``signs``: see ``vote``)."""
    # The per-study directions of ``study_directions`` without its frame (a few calls per subset).
    by_domain: dict[object, Counter[str]] = {}
    for (_, domain), directions in _study_votes(effects, signs).items():
        by_domain.setdefault(domain, Counter())[study_direction(directions)] += 1
    associations = Counter(effects["outcome_domain"]) if len(effects) else Counter()
    out = []
    for domain in domains:
        counts = by_domain.get(domain, Counter())
        out.append(
            DomainSummary(
                domain=domain,
                k=associations[domain],
                n_studies=sum(counts.values()),
                positive=counts["positive"],
                null=counts["null"],
                negative=counts["negative"],
                mixed=counts["mixed"],
                sign_p=sign_test(counts["positive"], counts["negative"]),
                unclear=counts["unclear"],
            )
        )
    return out


def summary_frame(effects: pd.DataFrame, groups: dict[str, Sequence[str]]) -> pd.DataFrame:
    """Domain summaries for several groups of arm relevance (e.g. A; A–C) in one long table."""
    rows = []
    for label, relevance in groups.items():
        subset = effects[effects["arm_relevance"].isin(relevance)]
        for s in summarise_domains(subset):
            if s.k == 0:
                continue
            rows.append({"group": label, **s.__dict__})
    return pd.DataFrame(rows)


def favourable_r(effects: pd.DataFrame) -> pd.Series:
    """Correlation oriented so that positive means stronger alliance with better outcome.

    Uses the printed r, else the derived r; the sign flips where a higher outcome score is worse.
    """
    value = effects["r"].astype("Float64").fillna(effects["r_derived"].astype("Float64"))
    flip = effects.get("outcome_higher_is_better", pd.Series("yes", index=effects.index)) == "no"
    return value.where(~flip, -value)


@dataclass(frozen=True)
class PoolingAssessment:
    """Whether a meta-analysis of correlations is possible in a domain, and on what."""

    domain: str
    n_studies_printed: int
    n_studies_any: int
    possible: bool


def assess_pooling(effects: pd.DataFrame, domains: Sequence[str] = DOMAINS) -> list[PoolingAssessment]:
    """A domain can be pooled when two or more studies give a correlation (printed or derived) and an N."""
    any_r = study_correlations(effects, include_derived=True)["outcome_domain"].value_counts()
    printed = study_correlations(effects, include_derived=False)["outcome_domain"].value_counts()
    return [
        PoolingAssessment(d, int(printed.get(d, 0)), int(any_r.get(d, 0)), int(any_r.get(d, 0)) >= 2)
        for d in domains
    ]


@dataclass(frozen=True)
class PooledCorrelation:
    """Random-effects pooled correlation of one domain (REML, Knapp–Hartung, prediction interval)."""

    domain: str
    k: int
    r: float
    ci_lb: float
    ci_ub: float
    pi_lb: float
    pi_ub: float
    tau2: float
    I2: float


def study_correlations(effects: pd.DataFrame, include_derived: bool = True) -> pd.DataFrame:
    """One Fisher z per study (mean z of its correlations) with its N, for pooling.

    Rows without an N (the association's, else the study's) cannot be weighted and are dropped.
    """
    e = effects.assign(fav=favourable_r(effects))
    e = e[e["fav"].notna()]
    if not include_derived:
        e = e[e["r"].notna()]
    n = e["n"].astype("Float64")
    if "n_analysed" in e:
        n = n.fillna(e["n_analysed"].astype("Float64"))
    e = e.assign(n_used=n, z=np.arctanh(e["fav"].astype(float)))
    e = e[e["n_used"].notna() & (e["n_used"] > 3)]
    return (
        e.groupby(["outcome_domain", "study_id"], sort=True)
        .agg(z=("z", "mean"), n=("n_used", "max"))
        .reset_index()
    )


def pool_domain(effects: pd.DataFrame, domain: str, include_derived: bool = True) -> PooledCorrelation | None:
    """Pool a domain's study correlations, or None when fewer than two studies give one."""
    from livingreview.meta.models import predict, rma

    rows = study_correlations(effects, include_derived)
    rows = rows[rows["outcome_domain"] == domain]
    if len(rows) < 2:
        return None
    fit = rma(rows["z"].to_numpy(), 1.0 / (rows["n"].to_numpy(dtype=float) - 3.0), method="REML", test="knha")
    pred = predict(fit)
    back = np.tanh
    return PooledCorrelation(
        domain,
        fit.k,
        float(back(fit.estimate)),
        float(back(pred.ci_lb)),
        float(back(pred.ci_ub)),
        float(back(pred.pi_lb)),
        float(back(pred.pi_ub)),
        fit.tau2,
        fit.I2,
    )
