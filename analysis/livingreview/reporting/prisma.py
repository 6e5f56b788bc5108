"""PRISMA 2020 flow diagram (template for updated reviews) and the PRISMA 2020 / PRISMA-LSR checklist.

The flow is computed from ``data/searches.csv`` and ``data/screening.csv``; the previous-version
arm from the screening table of the newest release snapshot under ``releases/vX.Y.Z/`` (none for
the first version). Counts that do not add up are validation problems (``flow_problems``), never
a silently wrong picture.
"""

from __future__ import annotations

import csv
import textwrap
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from livingreview.project.qmd import book_files, heading_ids, read_quarto_yml
from livingreview.project.snapshots import older_versions

if TYPE_CHECKING:  # drawing libraries load only when a figure or table is made (validate stays fast)
    from great_tables import GT
    from matplotlib.figure import Figure

# Grouping of free-text reasons (lower-cased; the first group with a matching phrase wins).
EXCLUSION_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Population not depression or anxiety", ("alcohol", "bipolar", "schizophreni")),
    (
        "No medication arm, or none reported",
        ("psychotherapy conditions only", "psychotherapy (cbt)", "whether a pharmacotherapy arm"),
    ),
    ("Outcome not eligible or not measured", ("outcome was", "no outcome association")),
    (
        "Not a primary study (review, editorial, secondary source)",
        ("review", "editorial", "secondary source"),
    ),
    ("Same sample as an included study", ("same sample",)),
    (
        "No usable result in the text read",
        (
            "no medication-arm",
            "no association statistic",
            "no extractable",
            "truncated",
            "qualitative only",
            "not tabulated",
        ),
    ),
)
OTHER_REASON = "Other reason (see the screening table)"
ADJACENT_GROUPS: tuple[tuple[str, str], ...] = (
    ("adjacent construct", "construct other than alliance"),
    ("adjacent population", "population outside depression and anxiety"),
    ("adjacent treatment", "treatment other than conventional medication"),
)
ADJACENT_OTHER = "setting, design or provider unclear"
SYNTHESIS_LABEL = "Earlier reviews and meta-analyses (context only)"


def exclusion_group(reason: str) -> str:
    """Group of an ``excluded`` record's reason (see ``EXCLUSION_GROUPS``)."""
    text = reason.lower()
    for label, _ in EXCLUSION_GROUPS:  # reasons recorded by `livingreview screen` start with the label
        if text.startswith(label.lower()):
            return label
    for label, phrases in EXCLUSION_GROUPS:
        if any(p in text for p in phrases):
            return label
    return OTHER_REASON


def adjacent_group(reason: str) -> str:
    text = reason.lower()
    return next((label for prefix, label in ADJACENT_GROUPS if text.startswith(prefix)), ADJACENT_OTHER)


@dataclass(frozen=True)
class Flow:
    """Every number of the flow diagram."""

    version: str
    previous_version: str | None
    previous_studies: int | None
    previous_reports: int | None
    removed_studies: int
    n_searches: int
    records_found: int | None  # sum of searches.records_found when every search records it
    records_identified: int
    removed_before_screening: int | None
    records_screened: int
    excluded: dict[str, int] = field(default_factory=dict)
    adjacent: dict[str, int] = field(default_factory=dict)
    synthesis: int = 0
    awaiting: int = 0
    not_retrieved: int = 0
    queued: int = 0  # found by a logged search run, not yet screened (data/candidates.csv)
    new_studies: int = 0
    new_reports: int = 0
    total_studies: int = 0
    total_reports: int = 0

    @property
    def n_excluded(self) -> int:
        return sum(self.excluded.values())

    @property
    def n_adjacent(self) -> int:
        return sum(self.adjacent.values())

    @property
    def n_not_included(self) -> int:
        return self.n_excluded + self.n_adjacent + self.synthesis + self.awaiting

    @property
    def reports_sought(self) -> int:
        """Every screened record's full report was sought for retrieval."""
        return self.records_screened

    @property
    def reports_assessed(self) -> int:
        """Reports assessed for eligibility: all sought (on the abstract where no full text was retrieved)."""
        return self.records_screened


def _records_found(values: Sequence[object]) -> int | None:
    numbers = [v for v in values if v is not None and not pd.isna(v) and str(v) != ""]
    return int(sum(int(v) for v in numbers)) if numbers and len(numbers) == len(values) else None


def snapshot_screening(releases_dir: Path, version: str) -> tuple[str, pd.DataFrame] | None:
    """Screening table of the newest release snapshot older than ``version``, if any."""
    for older in reversed(older_versions(releases_dir, version)):
        candidate = releases_dir / f"v{older}" / "data" / "screening.csv"
        if candidate.is_file():
            return older, pd.read_csv(candidate, dtype=str, keep_default_na=False, encoding="utf-8")
    return None


def compute_flow(
    screening: pd.DataFrame,
    searches: pd.DataFrame,
    version: str,
    previous: tuple[str, pd.DataFrame] | None = None,
) -> Flow:
    """The flow of records for this version (new records only when a previous version exists)."""
    included_now = set(screening.loc[screening["decision"] == "included", "study_id"])
    if previous is None:
        new = screening
        prev_version = prev_studies = prev_reports = None
        removed = 0
    else:
        prev_version, prev = previous
        prev_inc = prev[prev["decision"] == "included"]
        prev_version = str(prev_version)
        prev_studies = int(prev_inc["study_id"].nunique())
        prev_reports = len(prev_inc)
        removed = len(set(prev_inc["study_id"]) - included_now)
        new = screening[~screening["record_id"].isin(set(prev["record_id"]))]
    decisions = new["decision"]
    excluded = Counter(exclusion_group(r) for r in new.loc[decisions == "excluded", "reason"])
    adjacent = Counter(adjacent_group(r) for r in new.loc[decisions == "adjacent", "reason"])
    included_new = new[decisions == "included"]
    found = _records_found(list(searches["records_found"])) if "records_found" in searches else None
    return Flow(
        version=version,
        previous_version=prev_version,
        previous_studies=prev_studies,
        previous_reports=prev_reports,
        removed_studies=removed,
        n_searches=len(searches),
        records_found=found,
        records_identified=found if found is not None else len(new),
        removed_before_screening=None if found is None else found - len(new),
        records_screened=len(new),
        excluded=dict(sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0]))),
        adjacent=dict(sorted(adjacent.items(), key=lambda kv: (-kv[1], kv[0]))),
        synthesis=int((decisions == "synthesis").sum()),
        awaiting=int((decisions == "awaiting").sum()),
        not_retrieved=int((new["full_text_retrieved"] != "yes").sum()) if "full_text_retrieved" in new else 0,
        new_studies=int(included_new["study_id"].nunique()),
        new_reports=len(included_new),
        total_studies=len(included_now),
        total_reports=int((screening["decision"] == "included").sum()),
    )


def flow_problems(flow: Flow, file: str = "screening.csv") -> list[str]:
    """Ways in which the numbers of ``flow`` fail to add up (empty when they do)."""
    problems = []
    if flow.removed_before_screening is not None and flow.removed_before_screening < 0:
        problems.append(
            f"searches.csv records {flow.records_found} records found, fewer than the "
            f"{flow.records_screened} records screened in {file}"
        )
    if flow.records_screened != flow.n_not_included + flow.new_reports:
        problems.append(
            f"{flow.records_screened} records screened but {flow.n_not_included} not included "
            f"plus {flow.new_reports} included"
        )
    expected_total = (flow.previous_studies or 0) - flow.removed_studies + flow.new_studies
    if flow.total_studies != expected_total:
        problems.append(
            f"{flow.total_studies} studies included in total, but previous version "
            f"({flow.previous_studies or 0}) - removed ({flow.removed_studies}) + new ({flow.new_studies}) "
            f"= {expected_total}"
        )
    return problems


def check_rows(
    screening: list[dict[str, str]], searches: list[dict[str, str]]
) -> Iterator[tuple[str, int, str, str]]:
    """Validator hook: (file, row, column, message) for flow counts that do not add up.

    Runs of stored strategies (``strategy_id`` given) and the records screened from their queue are
    checked by ``livingreview.search.runner.check_rows`` instead.
    """
    searches = [r for r in searches if not r.get("strategy_id")]
    screening = [r for r in screening if r.get("notes_file") != "candidates.csv"]
    found = [r.get("records_found", "") for r in searches]
    given = [v for v in found if v.strip()]
    if given and len(given) != len(found):
        # Point at the row the author most likely touched: the odd one out (a new search that gives
        # a count where older ones do not, or one that leaves it out where the others give it).
        with_count = [r for r in searches if r.get("records_found", "").strip()]
        without = [r for r in searches if not r.get("records_found", "").strip()]
        newest_given = int(with_count[-1]["_row"]) > int(without[-1]["_row"])
        if len(with_count) < len(without) or (len(with_count) == len(without) and newest_given):
            odd, others, state = with_count[-1], without, "given here but not for"
        else:
            odd, others, state = without[-1], with_count, "missing here but given for"
        rows = ", ".join(str(r["_row"]) for r in others)
        yield (
            "searches.csv",
            int(odd["_row"]),
            "records_found",
            f"records_found is {state} the searches in rows {rows}: the PRISMA flow cannot add up "
            "(give it for every search or for none)",
        )
        return
    frame = pd.DataFrame(
        [{k: v for k, v in r.items() if k != "_row"} for r in screening],
        columns=["record_id", "study_id", "decision", "reason", "full_text_retrieved"],
    )
    search_frame = pd.DataFrame({"records_found": [int(v) if v.strip().isdigit() else None for v in found]})
    for message in flow_problems(compute_flow(frame, search_frame, "0.0.0")):
        yield ("searches.csv" if message.startswith("searches") else "screening.csv", 0, "decision", message)


def load_flow(root: Path, version: str) -> Flow:
    """The flow of the project at ``root`` (data/ plus any release snapshot)."""
    screening = pd.read_csv(root / "data" / "screening.csv", dtype=str, keep_default_na=False)
    searches = pd.read_csv(root / "data" / "searches.csv", dtype=str, keep_default_na=False)
    searches["records_found"] = pd.to_numeric(searches["records_found"].replace("", pd.NA))
    previous = snapshot_screening(root / "releases", version)
    if previous is not None:  # an update counts the searches run since the previous version
        old = root / "releases" / f"v{previous[0]}" / "data" / "searches.csv"
        if old.is_file():
            before = set(pd.read_csv(old, dtype=str, keep_default_na=False)["search_id"])
            searches = searches[~searches["search_id"].isin(before)].reset_index(drop=True)
    flow = compute_flow(screening, searches, version, previous)
    return with_queue(flow, root / "data" / "candidates.csv")


def with_queue(flow: Flow, queue: Path) -> Flow:
    """Records found by a logged search but still waiting in the screening queue are not 'removed'."""
    if not queue.is_file() or flow.removed_before_screening is None:
        return flow
    waiting = len(pd.read_csv(queue, dtype=str, keep_default_na=False))
    return replace(flow, queued=waiting, removed_before_screening=flow.removed_before_screening - waiting)


# --- drawing ---------------------------------------------------------------------------------

BOX = {"boxstyle": "square,pad=0.0", "linewidth": 0.9, "edgecolor": "black"}
STAGE_COLOUR = "#CFE4F2"  # light tint of Okabe-Ito sky blue
PREVIOUS_COLOUR = "#EDEDED"


def _box(ax, x: float, y: float, w: float, h: float, text: str, face: str = "white", size: float = 8) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, facecolor=face, **BOX))
    ax.text(x + 0.012, y + h - 0.012, text, ha="left", va="top", fontsize=size, linespacing=1.3)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 0.9, "shrinkA": 0, "shrinkB": 0},
    )


def _wrap(text: str, width: int, indent: str = "") -> str:
    return "\n".join(
        textwrap.fill(part, width, subsequent_indent=indent) if part else "" for part in text.split("\n")
    )


def _bullets(items: dict[str, int], width: int) -> list[str]:
    return [_wrap(f"• {label} ({n})", width, indent="   ") for label, n in items.items()]


def flow_figure(flow: Flow) -> Figure:
    """The PRISMA 2020 flow diagram for updated reviews, drawn with matplotlib boxes and arrows."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from livingreview.reporting.figures import use_book_style

    use_book_style()
    fig = plt.figure(figsize=(7.0, 8.2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    prev_x, prev_w = 0.055, 0.2
    main_x, main_w = 0.28, 0.33
    side_x, side_w = 0.64, 0.355
    mid = main_x + main_w / 2

    # Column headers
    _box(ax, prev_x, 0.93, prev_w, 0.06, "Previous version\nof the review", face=PREVIOUS_COLOUR, size=8.5)
    _box(
        ax,
        main_x,
        0.93,
        side_x + side_w - main_x,
        0.06,
        "Identification of new studies via databases,\nregisters and other sources",
        face="#F8E3B3",
        size=8.5,
    )
    # Stage bands
    for y, h, label in (
        (0.70, 0.215, "Identification"),
        (0.26, 0.425, "Screening"),
        (0.02, 0.225, "Included"),
    ):
        ax.add_patch(FancyBboxPatch((0.0, y), 0.04, h, facecolor=STAGE_COLOUR, **BOX))
        ax.text(0.02, y + h / 2, label, rotation=90, ha="center", va="center", fontsize=8.5, weight="bold")

    # Previous-version arm
    if flow.previous_version is None:
        prev_text = _wrap(
            f"No previous version: this is the first version (v{flow.version}), so every record is new.", 22
        )
    else:
        prev_text = _wrap(
            f"Studies included in version {flow.previous_version}: n = {flow.previous_studies}\n\n"
            f"Reports of these studies: n = {flow.previous_reports}",
            22,
        )
    _box(ax, prev_x, 0.77, prev_w, 0.145, prev_text, face=PREVIOUS_COLOUR)

    # Identification
    if flow.records_found is not None:
        ident = f"Records identified: n = {flow.records_found}\n\n" + _wrap(
            f"from {flow.n_searches} logged searches of bibliographic records, publisher and repository "
            "pages and citation chasing",
            36,
        )
        removed = f"n = {flow.removed_before_screening}"
        if flow.queued:
            removed += "\n" + _wrap(f"Not yet screened (in the screening queue): n = {flow.queued}", 38)
    else:
        ident = f"Records identified: n = {flow.records_identified}\n\n" + _wrap(
            f"from {flow.n_searches} logged searches; the log gives no per-search counts, so the records "
            "in the screening table are counted",
            36,
        )
        removed = "not recorded"
    _box(ax, main_x, 0.77, main_w, 0.145, ident)
    _box(
        ax,
        side_x,
        0.77,
        side_w,
        0.145,
        _wrap("Records removed before screening (duplicates and others):", 38) + f"\n{removed}",
    )
    _arrow(ax, (main_x + main_w, 0.8425), (side_x, 0.8425))
    _arrow(ax, (mid, 0.77), (mid, 0.675))

    # Screening and eligibility (one step in this review)
    screened = (
        f"Records screened: n = {flow.records_screened}\n"
        f"Reports sought for retrieval: n = {flow.reports_sought}\n"
        f"Full text not retrieved: n = {flow.not_retrieved}\n"
        f"Reports assessed for eligibility: n = {flow.reports_assessed}\n"
        + _wrap(f"({flow.not_retrieved} of them on the abstract or an excerpt only)", 36)
    )
    _box(ax, main_x, 0.52, main_w, 0.155, screened)
    lines = [f"Records not included: n = {flow.n_not_included}", ""]
    lines.append(f"Adjacent evidence, tabulated only: n = {flow.n_adjacent}")
    lines += _bullets(flow.adjacent, 40)
    lines.append(f"Excluded, with reasons: n = {flow.n_excluded}")
    lines += _bullets(flow.excluded, 40)
    lines.append(
        _wrap(f"Awaiting classification (the text read did not allow a decision): n = {flow.awaiting}", 40)
    )
    lines.append(_wrap(f"{SYNTHESIS_LABEL}: n = {flow.synthesis}", 40))
    _box(ax, side_x, 0.265, side_w, 0.42, "\n".join(lines), size=7.5)
    _arrow(ax, (main_x + main_w, 0.6175), (side_x, 0.6175))
    _arrow(ax, (mid, 0.52), (mid, 0.235))

    # Included
    new_text = (
        f"New studies included: n = {flow.new_studies}\n"
        f"Reports of new included\nstudies: n = {flow.new_reports}"
    )
    _box(ax, main_x, 0.135, main_w, 0.1, new_text)
    total_note = (
        f" ({flow.removed_studies} removed since the previous version)" if flow.removed_studies else ""
    )
    total = (
        f"Total studies included in the review: n = {flow.total_studies}{total_note}\n"
        f"Reports of total included studies: n = {flow.total_reports}"
    )
    _box(ax, prev_x, 0.03, main_x + main_w - prev_x, 0.08, total, face="#F2F7FB")
    _arrow(ax, (mid, 0.135), (mid, 0.11))
    _arrow(ax, (prev_x + prev_w / 2, 0.77), (prev_x + prev_w / 2, 0.11))
    return fig


# --- checklist -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A section id of the book with its title and the file that holds it."""

    ident: str
    title: str
    file: str


def book_anchors(root: Path) -> dict[str, Anchor]:
    """Every ``{#sec-…}`` heading id of the book's sources (chapters and appendices)."""
    out: dict[str, Anchor] = {}
    for book_file in book_files(read_quarto_yml(root / "_quarto.yml")):
        path = root / book_file.path
        if not path.is_file():
            continue
        for _, ident, title in heading_ids(path.read_text(encoding="utf-8")):
            out[ident] = Anchor(ident, title, book_file.path)
    return out


def read_checklist(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def missing_anchors(root: Path, checklist: list[dict[str, str]] | None = None) -> list[str]:
    """Checklist items whose anchor is not a heading id of the book."""
    rows = checklist if checklist is not None else read_checklist(root / "data" / "prisma-checklist.csv")
    anchors = book_anchors(root)
    return [f"{r['item']}: #{r['anchor']}" for r in rows if r["anchor"] and r["anchor"] not in anchors]


def checklist_table(root: Path) -> GT:
    """The PRISMA 2020 checklist with the PRISMA-LSR items, each with where the book reports it."""
    from great_tables import GT, loc, style

    rows = read_checklist(root / "data" / "prisma-checklist.csv")
    anchors = book_anchors(root)
    frame = pd.DataFrame(
        {
            "section": [r["section"] for r in rows],
            "item": [r["item"] for r in rows],
            "topic": [r["topic"] for r in rows],
            "text": [r["text"] for r in rows],
            "where": [
                f"{anchors[r['anchor']].title} (#{r['anchor']})" if r["anchor"] in anchors else "not reported"
                for r in rows
            ],
            "note": [r["note"] for r in rows],
        }
    )
    reported = sum(1 for r in rows if r["anchor"])
    return (
        GT(frame, id="tbl-prisma-checklist-gt", groupname_col="section")
        .cols_label(
            item="Item", topic="Topic", text="What the item asks for", where="Reported in", note="Note"
        )
        .tab_style(
            style.text(style="italic", color="#7F7F7F"),
            loc.body(columns="where", rows=frame.index[frame["where"] == "not reported"].tolist()),
        )
        .tab_source_note(
            f"{reported} of {len(rows)} items are reported at least in part. Item texts are our short "
            "paraphrases of PRISMA 2020 and of its extension for living systematic reviews "
            "(PRISMA-LSR; numbered LSR-n by us, not by the extension); consult the statements for the "
            "official wording."
        )
        .tab_source_note(
            "Source: the review's PRISMA checklist table; section titles and ids from the book's sources."
        )
    )
