"""Figures of the book (matplotlib; deterministic, colour-blind-safe Okabe–Ito palette)."""

from __future__ import annotations

import math

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from livingreview.data.dataset import Dataset
from livingreview.reporting.palette import OKABE_ITO
from livingreview.reporting.scale import largest, shown_note
from livingreview.reporting.tables import study_label
from livingreview.synthesis.domains import favourable_r, study_directions

DIRECTION_STYLE = {  # marker, colour, legend text
    "positive": ("^", OKABE_ITO["blue"], "Positive (stronger alliance, better outcome)"),
    "null": ("o", OKABE_ITO["grey"], "No association found"),
    "negative": ("v", OKABE_ITO["vermillion"], "Negative"),
    "mixed": ("D", OKABE_ITO["orange"], "Mixed"),
    "unclear": ("s", "white", "Association reported, direction not stated"),
}
RELEVANCE_COLOUR = {
    "A": OKABE_ITO["blue"],
    "B": OKABE_ITO["green"],
    "C": OKABE_ITO["purple"],
    "D": OKABE_ITO["grey"],
}
DOMAIN_ORDER = ["symptoms", "adherence", "retention", "satisfaction", "other"]


def legend_marker(marker: str, colour: str, label: str, size: float = 7) -> Line2D:
    """A legend entry: a black-edged marker without a line."""
    return Line2D(
        [],
        [],
        marker=marker,
        color=colour,
        linestyle="",
        markeredgecolor="black",
        markeredgewidth=0.5,
        markersize=size,
        label=label,
    )


PRINT_DPI = 200  # PNGs are stored at twice the design size (``retina``), enough for print


def use_book_style() -> None:
    """Fixed fonts, sizes and metadata so that re-execution gives identical images."""
    _retina_inline()
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": PRINT_DPI,
            "font.size": 9,
            "font.family": "DejaVu Sans",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "livingreview",
            "path.simplify": True,
        }
    )


def _retina_inline() -> None:
    """In a notebook, store figures as PNGs at 2 × 100 dpi with their display size as metadata."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


def _marker_size(n: float | None) -> float:
    return 30.0 if n is None or pd.isna(n) else 20.0 + 6.0 * math.sqrt(float(n))


def direction_plot(data: Dataset, relevance: tuple[str, ...] = ("A", "B", "C")) -> Figure:
    """Effect-direction plot: studies (rows) × outcome domains (columns), arrows by direction."""
    use_book_style()
    effects = data.effects_with_studies()
    effects = effects[effects["arm_relevance"].isin(relevance)]
    per = study_directions(effects)
    total = per["study_id"].nunique()
    per = largest(per, "study_id", data.studies.set_index("study_id")["n_analysed"].astype("Float64"))
    studies = (
        per.drop_duplicates("study_id")
        .sort_values(["arm_relevance", "year", "study_id"], ascending=[True, True, True])["study_id"]
        .tolist()
    )
    domains = [d for d in DOMAIN_ORDER if d in set(per["outcome_domain"])]
    ypos = {s: i for i, s in enumerate(reversed(studies))}
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(studies) + 1.6))
    for direction, (marker, colour, _) in DIRECTION_STYLE.items():
        rows = per[per["direction"] == direction]
        ax.scatter(
            [domains.index(d) for d in rows["outcome_domain"]],
            [ypos[s] for s in rows["study_id"]],
            s=[_marker_size(n) for n in rows["n"]],
            marker=marker,
            color=colour,
            edgecolor="black",
            linewidth=0.5,
            zorder=3,
        )
    relevance_of = per.drop_duplicates("study_id").set_index("study_id")["arm_relevance"]
    ax.set_yticks(range(len(studies)))
    ax.set_yticklabels([f"{study_label(s)} [{relevance_of[s]}]" for s in reversed(studies)])
    ax.set_xticks(range(len(domains)))
    ax.set_xticklabels([d.capitalize() for d in domains])
    ax.set_xlim(-0.6, len(domains) - 0.4)
    ax.set_ylim(-0.7, len(studies) - 0.3)
    ax.grid(axis="y", color="#E5E5E5", zorder=0)
    ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
    handles = [legend_marker(m, c, t) for m, c, t in DIRECTION_STYLE.values()]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=2,
        frameon=False,
        fontsize=8,
    )
    title = "Marker area grows with the number of participants; [A–C] = arm relevance"
    if len(studies) < total:
        title += "\n" + shown_note(len(studies), total, "studies", "data/effects.csv")
    ax.set_title(title, fontsize=8, loc="left", pad=24)
    fig.tight_layout()
    return fig


def _fisher_ci(r: float, n: float | None) -> tuple[float, float] | None:
    if n is None or pd.isna(n) or n <= 3 or abs(r) >= 1:
        return None
    z, se = math.atanh(r), 1 / math.sqrt(float(n) - 3)
    return math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)


def context_plot(data: Dataset) -> Figure:
    """Correlations in our data beside the pooled estimates of earlier meta-analyses."""
    use_book_style()
    e = data.effects_with_studies().assign(fav=lambda d: favourable_r(d))
    e = e[e["fav"].notna()].sort_values(["arm_relevance", "study_id", "effect_id"], kind="stable")
    total = len(e)
    e = largest(e, "effect_id", e.set_index("effect_id")["n"].fillna(e.set_index("effect_id")["n_analysed"]))
    pooled = data.syntheses[data.syntheses["estimate"].notna()].sort_values("synthesis_id")
    rows = len(e) + len(pooled)
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * rows + 1.4))
    labels = []
    y = rows - 1
    for _, syn in pooled.iterrows():
        r = float(syn["r_derived"]) if pd.notna(syn["r_derived"]) else float(syn["estimate"])
        to_r = (lambda v: math.tanh(v)) if syn["metric"] == "fisher_z" else (lambda v: v)
        lb, ub = to_r(float(syn["ci_lb"])), to_r(float(syn["ci_ub"]))
        ax.fill([lb, r, ub, r], [y, y + 0.3, y, y - 0.3], color=OKABE_ITO["black"], zorder=3)
        labels.append(f"{study_label(syn['citation_key'])}: pooled, {syn['alliance_context']}")
        y -= 1
    for _, row in e.iterrows():
        r = float(row["fav"])
        derived = pd.isna(row["r"])
        ci = _fisher_ci(r, row["n"] if pd.notna(row["n"]) else row["n_analysed"])
        colour = RELEVANCE_COLOUR[row["arm_relevance"]]
        if ci:
            ax.plot(ci, [y, y], color=colour, linewidth=1.2, zorder=2)
        ax.scatter(
            [r],
            [y],
            s=36,
            marker="s",
            zorder=3,
            edgecolor=colour,
            linewidth=1.2,
            facecolor="white" if derived else colour,
        )
        labels.append(
            f"{study_label(row['study_id'])} [{row['arm_relevance']}] {row['outcome_domain']}"
            + (" (derived)" if derived else "")
        )
        y -= 1
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(list(range(rows - 1, -1, -1)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlim(-1, 1)
    ax.set_xticks(np.linspace(-1, 1, 9))
    ax.set_xlabel("Correlation, oriented so that positive = stronger alliance with better outcome")
    handles = [
        Line2D(
            [],
            [],
            marker="D",
            color=OKABE_ITO["black"],
            linestyle="",
            label="Earlier meta-analysis (95% CI)",
        )
    ]
    handles += [
        Line2D([], [], marker="s", color=c, linestyle="", label=f"Arm {k}")
        for k, c in RELEVANCE_COLOUR.items()
        if k in set(e["arm_relevance"])
    ]
    handles.append(
        Line2D(
            [],
            [],
            marker="s",
            markerfacecolor="white",
            markeredgecolor="black",
            linestyle="",
            label="Derived, not printed",
        )
    )
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=3,
        frameon=False,
        fontsize=8,
    )
    ax.grid(axis="x", color="#E5E5E5", zorder=0)
    if len(e) < total:
        ax.set_title(shown_note(len(e), total, "associations", "data/effects.csv"), fontsize=8, loc="left")
    fig.tight_layout()
    return fig
