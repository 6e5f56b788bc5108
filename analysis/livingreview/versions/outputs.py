"""The book's "What's new" table and the figure of headline results across released versions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from great_tables import GT
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from livingreview.reporting.figures import DIRECTION_STYLE, use_book_style
from livingreview.text.numbers import p_relation
from livingreview.versions.compare import HEADLINE_DOMAINS, Comparison, change_summary, whats_new_rows

BAR_ORDER = ("positive", "null", "mixed", "negative")


def whats_new_table(c: Comparison) -> GT:
    """What changed since the previous version: data changes, then each headline result before → after."""
    frame = pd.DataFrame(whats_new_rows(c))
    return (
        GT(frame, id="tbl-whats-new-gt", groupname_col="group")
        .cols_label(item="", detail="")
        .tab_source_note(change_summary(c))
        .tab_source_note(
            "Compared from the data snapshots kept under releases/ for every version "
            "(livingreview whats-new). Headline results: study-level effect directions for arm A "
            "and the two-sided sign test; pooled correlations where two or more studies give one."
        )
    )


def _p_label(p: float | None) -> str:
    if p is None or pd.isna(p):
        return "p n/a"
    return f"p{p_relation(p, space=False)}"


def versions_plot(frame: pd.DataFrame) -> Figure:
    """Effect-direction counts (arm A) per outcome domain and version, with sign-test p and pooled r.

    ``frame`` is :func:`livingreview.versions.compare.cumulative`: one row per version × domain.
    """
    use_book_style()
    labels = list(dict.fromkeys(frame["version"]))
    fig, axes = plt.subplots(
        1, len(HEADLINE_DOMAINS), figsize=(8.0, 3.2), sharey=True, constrained_layout=True
    )
    top = max(1, int(frame["n_studies"].max()) if len(frame) else 1)
    x = np.arange(len(labels))
    for ax, domain in zip(axes, HEADLINE_DOMAINS, strict=True):
        rows = frame[frame["domain"] == domain].set_index("version").reindex(labels)
        bottom = np.zeros(len(labels))
        for direction in BAR_ORDER:
            values = rows[direction].fillna(0).to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, width=0.6, color=DIRECTION_STYLE[direction][1], linewidth=0)
            bottom += values
        for xi, (_, row) in zip(x, rows.iterrows(), strict=True):
            text = _p_label(row["sign_p"])
            if pd.notna(row.get("pooled_r")):
                text += f"\nr={row['pooled_r']:.2f}"
            ax.text(xi, bottom[xi] + top * 0.03, text, ha="center", va="bottom", fontsize=7)
        ax.set_title(domain)
        ax.set_xticks(x, [f"v{v}" if v[0].isdigit() and "+" not in v else v for v in labels], rotation=30)
        ax.set_ylim(0, top * 1.35)
        pad = max(0.0, (3 - len(labels)) / 2)
        ax.set_xlim(-0.5 - pad, len(labels) - 0.5 + pad)
    axes[0].set_ylabel("Arm-A studies")
    handles = [Patch(color=DIRECTION_STYLE[d][1], label=DIRECTION_STYLE[d][2]) for d in BAR_ORDER]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False, fontsize=8)
    return fig
