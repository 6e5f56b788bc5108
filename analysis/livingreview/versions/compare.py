"""Released versions of the review: snapshots, what changed between two of them, and whether a
conclusion changed.

Every release keeps an unchanged copy of ``data/`` and ``references.bib`` under
``releases/vX.Y.Z/``, so versions are compared from these snapshots, never from git history.
A "state" below is any directory holding ``data/`` (and usually ``references.bib``): a snapshot,
or the project root with its working data.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from livingreview.data.dataset import load_dataset
from livingreview.project.paths import Project, files_digest
from livingreview.project.snapshots import (
    RELEASES,
    VersionError,
    format_version,
    parse_version,
    released_versions,
    releases_dir,
    same_data,
    snapshot,
)
from livingreview.synthesis.domains import pool_domain, summarise_domains
from livingreview.text.numbers import fmt_p, plural

HEADLINE_DOMAINS = ("symptoms", "adherence", "retention", "satisfaction")
ALPHA = 0.05
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "studies": ("study_id",),
    "effects": ("effect_id",),
    "searches": ("search_id",),
    "screening": ("record_id",),
    "syntheses": ("synthesis_id",),
    # The tables behind the certainty of the evidence: a change here can change a conclusion.
    "risk_of_bias": ("study_id", "domain"),
    "grade": ("outcome_domain", "factor"),
}
TABLE_NOUNS = {"risk_of_bias": "Risk-of-bias judgements", "grade": "GRADE decisions"}
# Certainty-of-evidence decisions (GRADE); compared only when both versions have them.
CERTAINTY_FILE = "grade.csv"


# --- differences between two datasets --------------------------------------------------------


@dataclass
class TableDiff:
    """Rows added, removed and changed (with the columns that changed) between two versions of a table."""

    table: str
    key: str  # the key column(s), joined by "+"
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _rows(path: Path, key: Sequence[str]) -> dict[str, dict[str, str]]:
    """Rows of a CSV file by their key (several key columns are joined by "/")."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh)
        out = {"/".join(row.get(k) or "" for k in key): row for row in rows}
    return {ident: row for ident, row in out.items() if all(ident.split("/"))}


def diff_table(before: Path, after: Path, table: str, key: str | Sequence[str]) -> TableDiff:
    """Compare ``before/<table>.csv`` with ``after/<table>.csv`` row by row (by primary key, as text)."""
    key = (key,) if isinstance(key, str) else tuple(key)
    old, new = _rows(before / f"{table}.csv", key), _rows(after / f"{table}.csv", key)
    out = TableDiff(table, "+".join(key))
    out.added = sorted(new.keys() - old.keys())
    out.removed = sorted(old.keys() - new.keys())
    for ident in sorted(old.keys() & new.keys()):
        columns = sorted(
            c for c in old[ident].keys() | new[ident].keys() if old[ident].get(c, "") != new[ident].get(c, "")
        )
        if columns:
            out.changed[ident] = columns
    return out


def _schemas(data_dir: Path) -> dict[str, dict]:
    """Schema of every resource without its human-readable text (titles, descriptions)."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in {"description", "title", "example"}}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    package = json.loads((data_dir / "datapackage.json").read_text(encoding="utf-8"))
    return {r["name"]: strip(r.get("schema", {})) for r in package.get("resources", [])}


@dataclass(frozen=True)
class SchemaChange:
    """One change of the data package's schema; ``breaking`` changes are a change of protocol.

    Additive changes (a new table, a new field, new allowed values, a constraint relaxed) keep
    every earlier row valid and meaningful: they come with new searches or new extraction items
    (MINOR). Removing or renaming a table or field, narrowing the allowed values, changing a type
    or any other constraint or key changes what earlier data mean (MAJOR).
    """

    text: str
    breaking: bool

    def __str__(self) -> str:
        return self.text


def _field_change(table: str, old: dict, new: dict) -> SchemaChange:
    """Classify the change of one field's definition (additive or breaking)."""
    name = f"{table}.{old['name']}"
    if old.get("type", "string") != new.get("type", "string"):
        return SchemaChange(f"{name} type changed", True)
    other = {"constraints", "type", "name"}
    if {k: v for k, v in old.items() if k not in other} != {k: v for k, v in new.items() if k not in other}:
        return SchemaChange(f"{name} definition changed", True)
    old_c, new_c = old.get("constraints", {}), new.get("constraints", {})
    relaxed = []
    for key in sorted((old_c.keys() | new_c.keys()) - {"enum"}):
        if old_c.get(key) == new_c.get(key):
            continue
        if key == "required" and not new_c.get(key):
            relaxed.append("no longer required")
            continue
        return SchemaChange(f"{name} constraint {key} changed", True)
    old_enum, new_enum = old_c.get("enum"), new_c.get("enum")
    if old_enum != new_enum:
        if new_enum is None:
            relaxed.append("any value allowed")
        elif old_enum is not None and set(old_enum) <= set(new_enum):
            relaxed.append(
                "allowed values added: " + ", ".join(str(v) for v in new_enum if v not in old_enum)
            )
        else:
            return SchemaChange(f"{name} allowed values changed", True)
    return SchemaChange(f"{name} {'; '.join(relaxed)}", False)


def schema_changes(before: Path, after: Path) -> list[SchemaChange]:
    """What changed in the data package's schemas (tables, fields, types, constraints incl. enums)."""
    old, new = _schemas(before), _schemas(after)
    out = [SchemaChange(f"table {name} added", False) for name in sorted(new.keys() - old.keys())]
    out += [SchemaChange(f"table {name} removed", True) for name in sorted(old.keys() - new.keys())]
    for name in sorted(old.keys() & new.keys()):
        old_fields = {f["name"]: f for f in old[name].get("fields", [])}
        new_fields = {f["name"]: f for f in new[name].get("fields", [])}
        out += [
            SchemaChange(f"{name}.{c} added", False) for c in sorted(new_fields.keys() - old_fields.keys())
        ]
        out += [
            SchemaChange(f"{name}.{c} removed", True) for c in sorted(old_fields.keys() - new_fields.keys())
        ]
        for c in sorted(old_fields.keys() & new_fields.keys()):
            if old_fields[c] != new_fields[c]:
                out.append(_field_change(name, old_fields[c], new_fields[c]))
        rest_old = {k: v for k, v in old[name].items() if k != "fields"}
        rest_new = {k: v for k, v in new[name].items() if k != "fields"}
        if rest_old != rest_new:
            out.append(SchemaChange(f"{name} keys changed", True))
    return out


# --- headline results and the conclusion-change check ---------------------------------------


@dataclass(frozen=True)
class Headline:
    """One outcome domain's headline result for arm A: effect-direction counts, sign test, pooled r."""

    domain: str
    n_studies: int
    positive: int
    null: int
    negative: int
    mixed: int
    sign_p: float | None
    pooled_k: int = 0
    pooled_r: float | None = None
    pooled_ci_lb: float | None = None
    pooled_ci_ub: float | None = None

    @property
    def direction(self) -> str:
        """Direction of the domain's evidence: which way the studies with a clear direction lean."""
        if self.pooled_r is not None:
            return "positive" if self.pooled_r > 0 else "negative" if self.pooled_r < 0 else "none"
        if self.positive > self.negative:
            return "positive"
        if self.negative > self.positive:
            return "negative"
        return "none"

    @property
    def significant(self) -> bool:
        """Sign test p below 0.05 (or, where pooled, a confidence interval excluding zero)."""
        if self.pooled_r is not None and self.pooled_ci_lb is not None and self.pooled_ci_ub is not None:
            return self.pooled_ci_lb > 0 or self.pooled_ci_ub < 0
        return self.sign_p is not None and self.sign_p < ALPHA


_HEADLINES: dict[tuple[Path, str], tuple[Headline, ...]] = {}  # by state and its data's digest


def headline(state: Path) -> list[Headline]:
    """Headline results of the dataset in ``state/data`` (arm A; studies as the unit).

    Remembered for the data's exact bytes: what's new, the version history and the results
    package ask for the same states (the working data, the last release) in one process.
    """
    key = (state.resolve(), files_digest(state / "data", ["*"]))
    if key not in _HEADLINES:
        _HEADLINES[key] = tuple(_headline(state))
    return list(_HEADLINES[key])


def _headline(state: Path) -> list[Headline]:
    data = load_dataset(state / "data")
    effects = data.effects_with_studies()
    arm_a = effects[effects["arm_relevance"] == "A"]
    out = []
    for s in summarise_domains(arm_a, HEADLINE_DOMAINS):
        pooled = pool_domain(arm_a, s.domain) if len(arm_a) else None
        out.append(
            Headline(
                s.domain,
                s.n_studies,
                s.positive,
                s.null,
                s.negative,
                s.mixed,
                s.sign_p,
                *(
                    (pooled.k, pooled.r, pooled.ci_lb, pooled.ci_ub)
                    if pooled is not None
                    else (0, None, None, None)
                ),
            )
        )
    return out


def certainty(state: Path, headlines: Sequence[Headline] | None = None) -> dict[str, str] | None:
    """GRADE certainty per outcome domain with arm-A evidence, computed from ``data/grade.csv``
    as the summary of findings computes it (None: the review has no such table).

    A domain whose five GRADE decisions are not all recorded is "not yet graded".
    """
    path = state / "data" / CERTAINTY_FILE
    if not path.is_file():
        return None
    from livingreview.reporting import grade

    decisions = grade.load_grade(state / "data")
    out = {}
    for h in headlines if headlines is not None else headline(state):
        if not h.n_studies:
            continue
        rows = decisions[decisions["outcome_domain"] == h.domain].set_index("factor")["downgrade"]
        if set(grade.FACTORS) <= set(rows.index):
            out[h.domain] = grade.certainty([int(rows[f]) for f in grade.FACTORS])
        else:
            out[h.domain] = "not yet graded"
    return out


def significance_basis(h: Headline) -> str:
    """The test behind a domain's significance, with its values (pooled CI or sign test)."""
    if h.pooled_r is not None and h.pooled_ci_lb is not None and h.pooled_ci_ub is not None:
        return (
            f"pooled r {h.pooled_r:.2f}, 95% CI {h.pooled_ci_lb:.2f} to {h.pooled_ci_ub:.2f}, "
            f"{h.pooled_k} studies"
        )
    return f"sign test p {fmt_p(h.sign_p)}"


def direction_basis(h: Headline) -> str:
    """What a domain's direction rests on: the pooled r, or the count of positive and negative studies."""
    if h.pooled_r is not None:
        return f"pooled r {h.pooled_r:.2f}"
    return f"{h.positive} positive and {h.negative} negative studies"


def _before_now(old: str, new: str) -> str:
    return f"before: {old}; now: {new}"


def conclusion_changes(
    before: Sequence[Headline],
    after: Sequence[Headline],
    certainty_before: dict[str, str] | None = None,
    certainty_after: dict[str, str] | None = None,
) -> list[str]:
    """Clauses naming each conclusion that differs: direction, significance, certainty.

    Each clause names the evidence it rests on before and now (the sign test, or the pooled
    correlation's confidence interval once two or more studies give a correlation).
    """
    from livingreview.reporting.grade import LEVELS

    old = {h.domain: h for h in before}
    out = []
    for h in after:
        o = old.get(h.domain)
        if o is None:
            continue
        if o.direction != h.direction:
            out.append(
                f"for {h.domain}, the direction of the evidence changed from {o.direction} to {h.direction} "
                f"({_before_now(direction_basis(o), direction_basis(h))})"
            )
        if o.significant != h.significant:
            state = "now" if h.significant else "no longer"
            out.append(
                f"for {h.domain}, the result is {state} statistically significant "
                f"({_before_now(significance_basis(o), significance_basis(h))})"
            )
    if certainty_before is not None and certainty_after is not None:
        for domain in sorted(certainty_before.keys() & certainty_after.keys()):
            was, now = certainty_before[domain], certainty_after[domain]
            if was == now:
                continue
            if was in LEVELS and now in LEVELS:
                way = "up" if LEVELS.index(now) > LEVELS.index(was) else "down"
                out.append(
                    f"for {domain}, the certainty of the evidence (GRADE) went {way} from {was} to {now}"
                )
            else:
                out.append(f"for {domain}, the certainty of the evidence (GRADE) changed from {was} to {now}")
    return out


# --- comparing two states ---------------------------------------------------------------------


@dataclass
class Comparison:
    """What changed from one version of the data (``before``) to another (``after``)."""

    before: str | None
    after: str
    tables: dict[str, TableDiff]
    schema: list[SchemaChange]
    headline_before: list[Headline]
    headline_after: list[Headline]
    conclusions: list[str]

    @property
    def first(self) -> bool:
        return self.before is None

    def to_dict(self) -> dict:
        return {
            "before": self.before,
            "after": self.after,
            "tables": {
                name: {"key": d.key, "added": d.added, "removed": d.removed, "changed": d.changed}
                for name, d in self.tables.items()
            },
            "schema_changes": [str(x) for x in self.schema],
            "schema_breaking": [str(x) for x in self.schema if x.breaking],
            "headline": {
                "before": [asdict(h) for h in self.headline_before],
                "after": [asdict(h) for h in self.headline_after],
            },
            "conclusion_changes": self.conclusions,
            "conclusion_flag": conclusion_flag(self),
        }

    def report(self) -> str:
        return whats_new_text(self)


def compare(before: Path | None, after: Path, before_label: str | None, after_label: str) -> Comparison:
    """Compare two states (``before`` None: the first version, nothing to compare with)."""
    after_headline = headline(after)
    if before is None:
        return Comparison(None, after_label, {}, [], [], after_headline, [])
    tables = {t: diff_table(before / "data", after / "data", t, k) for t, k in TABLE_KEYS.items()}
    before_headline = headline(before)
    return Comparison(
        before_label,
        after_label,
        tables,
        schema_changes(before / "data", after / "data"),
        before_headline,
        after_headline,
        conclusion_changes(
            before_headline,
            after_headline,
            certainty(before, before_headline),
            certainty(after, after_headline),
        ),
    )


def current_label(project: Project, version: str) -> str:
    """The working data's name: its version if it is that version's snapshot, else 'unreleased'."""
    snap = snapshot(project, version)
    if snap.is_dir() and same_data(snap, project.root):
        return version
    return f"{version} + unreleased changes"


def default_base(project: Project, version: str) -> str | None:
    """Which version the working data is compared with by default.

    The previous release when the working data are the current release, else the newest release.
    """
    released = released_versions(releases_dir(project))
    if not released:
        return None
    newest = released[-1]
    if same_data(snapshot(project, newest), project.root):
        older = [v for v in released if parse_version(v) < parse_version(newest)]
        return older[-1] if older else None
    return newest


def whats_new(project: Project, version: str, since: str | None = None) -> Comparison:
    """Compare the working data with ``since`` (default: see :func:`default_base`)."""
    base = format_version(parse_version(since)) if since else default_base(project, version)
    if base is not None and not snapshot(project, base).is_dir():
        raise VersionError(f"no snapshot of version {base} under {RELEASES}/")
    return compare(
        snapshot(project, base) if base else None, project.root, base, current_label(project, version)
    )


def cumulative(project: Project, version: str) -> pd.DataFrame:
    """Headline results of every released version (and of unreleased working data), one row per domain."""
    states = [(v, snapshot(project, v)) for v in released_versions(releases_dir(project))]
    if not states or not same_data(states[-1][1], project.root):
        states.append((current_label(project, version), project.root))
    rows = [{"version": label, **asdict(h)} for label, path in states for h in headline(path)]
    return pd.DataFrame(rows)


# --- sentences ---------------------------------------------------------------------------------


MAX_IDS = 25  # beyond this a what's-new cell names the first ones and counts the rest


def _ids(items: Sequence[str]) -> str:
    if not items:
        return "none"
    if len(items) <= MAX_IDS:
        return ", ".join(items)
    rest = len(items) - MAX_IDS
    shown = ", ".join(items[:MAX_IDS])
    return f"{shown} and {rest:,} more (`livingreview whats-new --json` lists them all)"


def conclusion_flag(c: Comparison) -> str:
    """The sentence shown at the top of the book: did any conclusion change since the last version?"""
    if c.first:
        return "This is the first version of the review, so no earlier conclusion can have changed."
    if not c.conclusions:
        return (
            f"No conclusion changed since version {c.before}: every direction, significance and certainty "
            "of the evidence is the same."
        )
    joined = "; ".join(c.conclusions)
    return f"A conclusion changed since version {c.before}: {joined}."


def change_summary(c: Comparison) -> str:
    """One sentence on the data changes since the previous version."""
    if c.first:
        return "This is the first version, so there is no previous version to compare with."
    s, e = c.tables["studies"], c.tables["effects"]
    parts = [
        f"{plural(len(s.added), 'study', 'studies', none='no')} added",
        f"{plural(len(s.removed), 'study', 'studies', none='no')} removed",
        f"{plural(len(s.changed), 'study', 'studies', none='no')} corrected",
        f"{plural(len(e.added), 'association', 'associations', none='no')} added",
        f"{plural(len(e.removed), 'association', 'associations', none='no')} removed",
        f"{plural(len(e.changed), 'association', 'associations', none='no')} changed",
        f"{plural(len(c.tables['searches'].added), 'search', 'searches', none='no')} added",
    ]
    return f"Since version {c.before}: " + ", ".join(parts[:-1]) + " and " + parts[-1] + "."


def headline_text(h: Headline) -> str:
    text = (
        f"{h.positive} positive, {h.null} null, {h.negative} negative, {h.mixed} mixed; "
        f"sign test p {fmt_p(h.sign_p)}"
    )
    if h.pooled_r is not None:
        text += f"; pooled r {h.pooled_r:.2f} ({h.pooled_ci_lb:.2f} to {h.pooled_ci_ub:.2f})"
    return text


def whats_new_rows(c: Comparison) -> list[dict[str, str]]:
    """Rows (group, item, detail) of the what's-new report and table."""
    if c.first:
        return [
            {
                "group": f"Version {c.after}",
                "item": "Previous version",
                "detail": "none: this is the first version of the review, so nothing is compared",
            }
        ]
    group = f"Changes from version {c.before} to {c.after}"
    rows = []
    for table, noun in (("studies", "Studies"), ("effects", "Associations"), ("searches", "Searches")):
        d = c.tables[table]
        rows.append({"group": group, "item": f"{noun} added", "detail": _ids(d.added)})
        rows.append({"group": group, "item": f"{noun} removed", "detail": _ids(d.removed)})
        verb = "corrected" if table == "studies" else "changed"
        changed = [f"{i} ({', '.join(cols)})" for i, cols in d.changed.items()]
        rows.append({"group": group, "item": f"{noun} {verb}", "detail": _ids(changed)})
    other = [t for t in ("screening", "syntheses") if not c.tables[t].empty]
    for t in other:
        d = c.tables[t]
        rows.append(
            {
                "group": group,
                "item": f"{t.capitalize()} rows",
                "detail": f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed",
            }
        )
    for t, noun in TABLE_NOUNS.items():
        d = c.tables.get(t)
        if d is None or d.empty:
            continue
        parts = [f"{len(d.added)} added", f"{len(d.removed)} removed"]
        parts += [f"{i} ({', '.join(cols)})" for i, cols in d.changed.items()]
        rows.append({"group": group, "item": f"{noun} changed", "detail": "; ".join(parts)})
    breaking = [str(x) for x in c.schema if x.breaking]
    additive = [str(x) for x in c.schema if not x.breaking]
    if breaking:
        rows.append({"group": group, "item": "Protocol (data schema)", "detail": "; ".join(breaking)})
    if additive:
        rows.append({"group": group, "item": "Data schema extended", "detail": "; ".join(additive)})
    hgroup = "Headline results, arm A (before → after)"
    old = {h.domain: h for h in c.headline_before}
    for h in c.headline_after:
        o = old.get(h.domain)
        before = headline_text(o) if o else "not reported"
        after = headline_text(h)
        detail = "unchanged: " + after if before == after else f"{before} → {after}"
        rows.append({"group": hgroup, "item": h.domain, "detail": detail})
    rows.append({"group": hgroup, "item": "Conclusions", "detail": conclusion_flag(c)})
    return rows


def whats_new_text(c: Comparison) -> str:
    """The readable report printed by ``livingreview whats-new``."""
    title = f"What's new in {c.after}" + (f" (compared with {c.before})" if c.before else "")
    lines = [title, "=" * len(title), change_summary(c), ""]
    group = None
    for row in whats_new_rows(c):
        if row["group"] != group:
            group = row["group"]
            lines += ["", group, "-" * len(group)]
        lines.append(f"{row['item']}: {row['detail']}")
    if c.first:
        lines += ["", conclusion_flag(c)]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


# --- values for _variables.yml -------------------------------------------------------------------

WHATS_NEW_FILE = "whats-new.json"


def release_record(project: Project, version: str) -> dict:
    """What ``livingreview release`` recorded about ``version`` (trigger, date, type), if anything."""
    path = snapshot(project, version) / WHATS_NEW_FILE
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("release", {}))


def versions_variables(project: Project, version: str) -> dict[str, object]:
    """``versions.*`` of ``_variables.yml``: what changed, the conclusion flag, the trigger."""
    c = whats_new(project, version)
    released = released_versions(releases_dir(project))
    record = release_record(project, version) if c.after == version else {}
    return {
        "current": c.after,
        "compared_with": c.before or "none (first version)",
        "n_released": len(released),
        "released": ", ".join(released) if released else "none yet",
        "conclusion_changed": "yes" if c.conclusions else "no",
        "conclusion_flag": conclusion_flag(c),
        "change_summary": change_summary(c),
        "trigger": record.get("trigger", "not recorded (this version has not been released yet)"),
        "release_type": record.get("type", "not recorded"),
    }
