"""Evidence gap map: diagnosis × outcome domain × design of the included studies (arms A to C)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from livingreview.data.dataset import DOMAINS, Dataset
from livingreview.reporting.palette import OKABE_ITO
from livingreview.synthesis.domains import study_directions

if TYPE_CHECKING:  # matplotlib loads only when the map is drawn (the gap sentence needs only the cells)
    from matplotlib.figure import Figure

INCLUDED = ("A", "B", "C")
DIAGNOSES = {"depression": "Depression", "anxiety": "Anxiety disorders", "ptsd": "PTSD"}
DESIGN_GROUPS = {  # group: (designs, colour, marker)
    "Randomised trial data": (("rct", "rct_secondary"), OKABE_ITO["blue"], "o"),
    "Cohort": (("prospective_cohort",), OKABE_ITO["orange"], "s"),
    "Cross-sectional or psychometric": (("cross_sectional", "psychometric"), OKABE_ITO["purple"], "D"),
    "Non-randomised intervention": (("non_randomised",), OKABE_ITO["green"], "^"),
}
OFFSETS = ((-0.22, 0.2), (0.22, 0.2), (-0.22, -0.2), (0.22, -0.2))


def design_group(design: str) -> str:
    return next(g for g, (designs, _, _) in DESIGN_GROUPS.items() if design in designs)


def gap_cells(data: Dataset) -> pd.DataFrame:
    """Studies and participants per diagnosis × outcome domain × design group (included studies)."""
    effects = data.effects_with_studies()
    effects = effects[effects["arm_relevance"].isin(INCLUDED)]
    per = study_directions(effects)
    design = data.studies.set_index("study_id")["design"]
    per = per.assign(design_group=per["study_id"].map(design).map(design_group))
    per = per[per["diagnosis"].isin(DIAGNOSES)]
    return (
        per.groupby(["diagnosis", "outcome_domain", "design_group"], sort=True)
        .agg(
            studies=("study_id", "nunique"),
            participants=("n", lambda s: int(s.astype("Float64").sum(skipna=True))),
            without_n=("n", lambda s: int(s.isna().sum())),
        )
        .reset_index()
    )


def empty_cells(cells: pd.DataFrame) -> list[tuple[str, str]]:
    """Diagnosis × domain pairs with no included study (the gaps)."""
    filled = set(zip(cells["diagnosis"], cells["outcome_domain"], strict=True))
    return [(d, o) for d in DIAGNOSES for o in DOMAINS if (d, o) not in filled]


MIN_AREA, MAX_AREA = 150.0, 750.0  # points², so that the largest bubble fits a quarter cell


def _area(participants: int, largest: int) -> float:
    if not participants or not largest:
        return MIN_AREA
    return MIN_AREA + (MAX_AREA - MIN_AREA) * math.sqrt(participants / largest)


def gap_map(data: Dataset) -> Figure:
    """Bubble grid; bubble area grows with participants, the number is the count of studies."""
    import matplotlib.pyplot as plt

    from livingreview.reporting.figures import legend_marker, use_book_style

    use_book_style()
    cells = gap_cells(data)
    diagnoses = list(DIAGNOSES)
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for i, _ in enumerate(diagnoses):
        for j, _ in enumerate(DOMAINS):
            ax.add_patch(
                plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white", edgecolor="#BFBFBF", linewidth=0.8)
            )
    for diagnosis, domain in empty_cells(cells):
        ax.text(
            DOMAINS.index(domain),
            diagnoses.index(diagnosis),
            "no studies",
            ha="center",
            va="center",
            fontsize=7.5,
            color="#595959",
            style="italic",
        )
    largest = int(cells["participants"].max()) if len(cells) else 0
    for row in cells.itertuples():
        designs = list(DESIGN_GROUPS)
        dx, dy = OFFSETS[designs.index(row.design_group)]
        _, colour, marker = DESIGN_GROUPS[row.design_group]
        x, y = DOMAINS.index(row.outcome_domain) + dx, diagnoses.index(row.diagnosis) + dy
        unknown = row.participants == 0
        ax.scatter(
            [x],
            [y],
            s=_area(row.participants, largest),
            color="white" if unknown else colour,
            marker=marker,
            edgecolor=colour if unknown else "black",
            linewidth=1.2 if unknown else 0.5,
            zorder=3,
        )
        ax.text(
            x,
            y + (0.05 if marker == "^" else 0),
            str(row.studies),
            ha="center",
            va="center",
            fontsize=7.5,
            weight="bold",
            color="black",
            zorder=4,
        )
    ax.set_xticks(range(len(DOMAINS)))
    ax.set_xticklabels([d.capitalize() for d in DOMAINS])
    ax.set_yticks(range(len(diagnoses)))
    ax.set_yticklabels([DIAGNOSES[d] for d in diagnoses])
    ax.set_xlim(-0.5, len(DOMAINS) - 0.5)
    ax.set_ylim(len(diagnoses) - 0.5, -0.5)
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("Outcome domain")
    handles = [legend_marker(m, c, g, size=8) for g, (_, c, m) in DESIGN_GROUPS.items()]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False, fontsize=8
    )
    ax.set_title(
        "Number = studies; area grows with participants (N analysed); hollow = N not reported",
        fontsize=8,
        loc="left",
    )
    fig.tight_layout()
    return fig
