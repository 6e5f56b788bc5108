"""Risk of bias of the included studies with QUIPS (prognostic-factor studies), robvis-style plots.

One row per included study × QUIPS domain in ``data/risk_of_bias.csv``; the judgement is low,
moderate, high, unclear, or "unclear (abstract only)" where only the abstract was read and it
does not tell.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from livingreview.data.dataset import Dataset
from livingreview.reporting.palette import OKABE_ITO
from livingreview.reporting.resources import read_resource
from livingreview.reporting.scale import MAX_FIGURE_ROWS, largest, shown_note

if TYPE_CHECKING:  # matplotlib loads only when a figure is drawn (validate stays fast)
    from matplotlib.figure import Figure

INCLUDED = ("A", "B", "C")
DOMAINS = ("participation", "attrition", "prognostic_factor", "outcome", "confounding", "analysis")
DOMAIN_LABELS = {
    "participation": "Study participation",
    "attrition": "Study attrition",
    "prognostic_factor": "Prognostic factor (alliance) measurement",
    "outcome": "Outcome measurement",
    "confounding": "Study confounding",
    "analysis": "Statistical analysis and reporting",
}
ABSTRACT_ONLY = "unclear (abstract only)"
NOT_ASSESSED = "not yet assessed"  # an included study (or domain) without a row in risk_of_bias.csv
JUDGEMENTS = ("low", "moderate", "high", "unclear", ABSTRACT_ONLY, NOT_ASSESSED)
# colour, symbol, legend text (colour-blind-safe: Okabe-Ito, plus a symbol in every cell)
STYLE = {
    "low": (OKABE_ITO["green"], "+", "Low"),
    "moderate": (OKABE_ITO["orange"], "−", "Moderate"),
    "high": (OKABE_ITO["vermillion"], "×", "High"),
    "unclear": (OKABE_ITO["sky"], "?", "Unclear"),
    ABSTRACT_ONLY: ("#BFBFBF", "?", "Unclear (abstract only)"),
    NOT_ASSESSED: ("white", "·", "Not yet assessed"),
}


def load_rob(data_dir: Path) -> pd.DataFrame:
    return read_resource(data_dir, "risk_of_bias")


def check_rows(
    rob: list[dict[str, str]], studies: list[dict[str, str]]
) -> Iterator[tuple[str, int, str, str]]:
    """Validator hook: risk of bias is assessed for included studies only.

    An included study without judgements is not an error (a new study can be added before it is
    assessed): the plots show it as "not yet assessed".
    """
    relevance = {s["study_id"]: s.get("arm_relevance", "") for s in studies}
    for row in rob:
        study = row.get("study_id", "")
        if relevance.get(study) == "D":
            yield (
                "risk_of_bias.csv",
                int(row["_row"]),
                "study_id",
                "risk of bias is assessed for included studies (arm relevance A to C) only",
            )


def complete(rob: pd.DataFrame, data: Dataset) -> pd.DataFrame:
    """One row per included study × domain; missing judgements become "not yet assessed"."""
    included = data.studies.loc[data.studies["arm_relevance"].isin(INCLUDED), "study_id"]
    grid = pd.MultiIndex.from_product([sorted(included), DOMAINS], names=["study_id", "domain"])
    judged = rob.set_index(["study_id", "domain"])["judgement"]
    return judged.reindex(grid).fillna(NOT_ASSESSED).rename("judgement").reset_index()


def judgement_matrix(rob: pd.DataFrame, data: Dataset) -> pd.DataFrame:
    """Included studies (rows, ordered by arm relevance, year) × domains (columns) of judgements."""
    order = data.studies[data.studies["arm_relevance"].isin(INCLUDED)].sort_values(
        ["arm_relevance", "year", "study_id"], kind="stable"
    )
    wide = complete(rob, data).pivot(index="study_id", columns="domain", values="judgement")
    return wide.reindex(index=order["study_id"], columns=list(DOMAINS))


def counts(rob: pd.DataFrame, data: Dataset) -> dict[str, int]:
    """Number of judgements of each kind over every included study × domain."""
    c = complete(rob, data)["judgement"].value_counts()
    return {j: int(c.get(j, 0)) for j in JUDGEMENTS}


def traffic_light(rob: pd.DataFrame, data: Dataset) -> Figure:
    """robvis-style traffic-light plot: one row per study, one column per QUIPS domain."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from livingreview.reporting.figures import use_book_style
    from livingreview.reporting.tables import study_label

    use_book_style()
    matrix = judgement_matrix(rob, data)
    total = len(matrix)
    if total > MAX_FIGURE_ROWS:
        size = data.studies.set_index("study_id")["n_analysed"].astype("Float64")
        keep = largest(pd.DataFrame({"study_id": matrix.index}), "study_id", size)["study_id"]
        matrix = matrix.loc[keep]
    relevance = data.studies.set_index("study_id")["arm_relevance"]
    n_rows, n_cols = matrix.shape
    fig, ax = plt.subplots(figsize=(6.8, 0.27 * n_rows + 2.3))
    cells = [  # row by row from the top, as the markers are drawn
        (j, n_rows - 1 - i, STYLE[judgement])
        for i, row in enumerate(matrix.itertuples(index=False))
        for j, judgement in enumerate(row)
    ]
    if cells:  # one collection for all the circles: a scatter call per cell costs a second to draw
        ax.scatter(
            [x for x, _, _ in cells], [y for _, y, _ in cells], s=150,
            color=[style[0] for _, _, style in cells], edgecolor="black", linewidth=0.5, zorder=3,
        )  # fmt: skip
    for x, y, (_, symbol, _) in cells:
        ax.text(x, y, symbol, ha="center", va="center", fontsize=8, weight="bold", zorder=4)
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels([f"{study_label(s)} [{relevance[s]}]" for s in reversed(matrix.index)])
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels([f"D{k + 1}" for k in range(n_cols)])
    ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False, length=0)
    ax.tick_params(axis="y", length=0)
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(-0.7, n_rows - 0.3)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.grid(color="#E5E5E5", zorder=0)
    key = "\n".join(f"D{k + 1}: {DOMAIN_LABELS[d]}" for k, d in enumerate(DOMAINS))
    handles = [
        Patch(facecolor=colour, edgecolor="black", linewidth=0.5, label=f"{symbol}  {text}")
        for judgement, (colour, symbol, text) in STYLE.items()
        if judgement != NOT_ASSESSED or (matrix == NOT_ASSESSED).any().any()
    ]
    ax.legend(
        handles=handles,
        title="Judgement",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        frameon=False,
        fontsize=8,
        title_fontsize=8,
    )
    ax.text(1.04, 0.74, key, transform=ax.transAxes, fontsize=7.5, va="top", ha="left")
    if n_rows < total:
        note = shown_note(n_rows, total, "studies", "data/risk_of_bias.csv")
        ax.set_title(note, fontsize=8, loc="left", pad=18)
    fig.tight_layout()
    return fig


def weighted_shares(rob: pd.DataFrame, data: Dataset, weighted: bool = True) -> tuple[pd.DataFrame, int]:
    """Share of participants (studies weighted by N analysed) per domain and judgement.

    Studies without a reported N cannot be weighted and are left out; their number is returned.
    With ``weighted=False`` every study counts once (share of studies), so none is left out.
    """
    n = data.studies.set_index("study_id")["n_analysed"]
    rob = complete(rob, data)
    weights = rob["study_id"].map(n).astype("Float64") if weighted else pd.Series(1.0, index=rob.index)
    frame = rob.assign(weight=weights.astype("Float64"))
    unweighted = int(frame.loc[frame["weight"].isna(), "study_id"].nunique())
    frame = frame[frame["weight"].notna()]
    table = frame.pivot_table(
        index="domain", columns="judgement", values="weight", aggfunc="sum", fill_value=0
    )
    table = table.reindex(index=list(DOMAINS), columns=list(JUDGEMENTS), fill_value=0).astype(float)
    totals = table.sum(axis=1).replace(0, np.nan)
    return table.div(totals, axis=0) * 100, unweighted


def summary_plot(rob: pd.DataFrame, data: Dataset) -> Figure:
    """robvis-style summary per domain: share of studies (unweighted) above, share of participants below."""
    import matplotlib.pyplot as plt

    from livingreview.reporting.figures import use_book_style

    use_book_style()
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 5.4), sharex=True)
    labels = [DOMAIN_LABELS[d] for d in DOMAINS]
    y = np.arange(len(DOMAINS))[::-1]
    for ax, weighted in zip(axes, (False, True), strict=True):
        shares, unweighted = weighted_shares(rob, data, weighted)
        left = np.zeros(len(DOMAINS))
        for judgement in JUDGEMENTS:
            colour, symbol, text = STYLE[judgement]
            values = shares[judgement].to_numpy()
            if not values.any():
                continue
            ax.barh(
                y, values, left=left, color=colour, edgecolor="black", linewidth=0.5, height=0.65, label=text
            )
            for yi, x0, v in zip(y, left, values, strict=True):
                if v >= 6:
                    ax.text(x0 + v / 2, yi, symbol, ha="center", va="center", fontsize=8, weight="bold")
            left += values
        ax.set_yticks(y)
        ax.set_yticklabels(labels)
        ax.set_xlim(0, 100)
        if weighted:
            title = "Share of participants (studies weighted by N analysed)"
            if unweighted:
                lacking = f"{unweighted} {'study' if unweighted == 1 else 'studies'}"
                title += f"; {lacking} without a reported N not shown"
        else:
            title = "Share of studies (each study counts once)"
        ax.set_title(title, fontsize=8, loc="left")
    axes[1].set_xticks(range(0, 101, 25))
    axes[1].set_xticklabels([f"{v}%" for v in range(0, 101, 25)])
    axes[1].legend(loc="upper center", bbox_to_anchor=(0.4, -0.18), ncol=5, frameon=False, fontsize=7.5)
    fig.tight_layout()
    return fig
