"""The review's results as a Frictionless data package (``results/``), one row per headline number.

Rows are derived from the values ``livingreview execute`` writes to ``_variables.yml`` (counts,
effect directions, GRADE ratings, PRISMA and search counts) and from the headline results of
:func:`livingreview.versions.compare.headline` (sign-test p-values and pooled correlations with their
confidence intervals), rounded so that every machine writes the same bytes. ``release`` keeps a copy
under ``releases/vX.Y.Z/results/`` and ``whats-new`` compares two versions row by row.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_DIR = "results"
RESULTS_FILE = "results.csv"
COLUMNS = ("result_id", "group", "definition", "value", "ci_lb", "ci_ub", "version", "analysis")
DOMAINS = ("symptoms", "adherence", "retention", "satisfaction")
P_DIGITS = 4
R_DIGITS = 3

SYNTHESIS = "livingreview.synthesis.domains.summarise_domains (analysis/02-synthesis.ipynb)"
POOLING = (
    "livingreview.synthesis.domains.pool_domain: REML, Knapp-Hartung CI, Fisher z "
    "(analysis/02-synthesis.ipynb)"
)
PRISMA = "livingreview.reporting.prisma.compute_flow (analysis/06-reporting.ipynb)"
GRADE = "livingreview.reporting.grade.domain_grades (analysis/06-reporting.ipynb)"
ROB = "livingreview.reporting.rob.counts (analysis/06-reporting.ipynb)"
DATASET = "livingreview.book.variables.compute_variables (analysis/01-studies.ipynb)"
SEARCH = "livingreview.search.report.search_variables (analysis/07-searches.ipynb)"

# (variables key, group, definition, analysis) for every count and rating that is a result
CATALOGUE: tuple[tuple[str, str, str, str], ...] = (
    ("studies.n_total", "studies", "Studies in the dataset (arm relevance A to D)", DATASET),
    ("studies.n_included", "studies", "Included studies (arm relevance A to C)", DATASET),
    (
        "studies.n_A",
        "studies",
        "Studies with a prescriber alliance in a medication or placebo arm (A)",
        DATASET,
    ),
    ("studies.n_B", "studies", "Studies pooling medication patients with psychotherapy arms (B)", DATASET),
    ("studies.n_C", "studies", "Studies of the psychotherapist alliance while on medication (C)", DATASET),
    ("studies.n_D", "studies", "Adjacent studies (D), tabulated only", DATASET),
    ("studies.n_participants_A", "studies", "Participants analysed in arm-A studies that report N", DATASET),
    ("effects.n_total", "associations", "Alliance-outcome associations in the dataset", DATASET),
    ("effects.n_A", "associations", "Associations from arm-A studies", DATASET),
    ("reporting.prisma.n_searches", "prisma", "Searches logged for this version", PRISMA),
    ("reporting.prisma.records_identified", "prisma", "Records identified", PRISMA),
    ("reporting.prisma.records_screened", "prisma", "Records screened", PRISMA),
    ("reporting.prisma.not_included", "prisma", "Records not included", PRISMA),
    ("reporting.prisma.excluded", "prisma", "Records excluded with reasons", PRISMA),
    ("reporting.prisma.adjacent", "prisma", "Records set aside as adjacent evidence", PRISMA),
    ("reporting.prisma.syntheses", "prisma", "Earlier reviews and meta-analyses (context only)", PRISMA),
    ("reporting.prisma.new_studies", "prisma", "New studies included in this version", PRISMA),
    ("reporting.prisma.total_studies", "prisma", "Studies included in the review in total", PRISMA),
    ("reporting.rob.n_judgements", "risk_of_bias", "QUIPS risk-of-bias judgements (studies x domains)", ROB),
    ("reporting.rob.low", "risk_of_bias", "Judgements of low risk of bias", ROB),
    ("reporting.rob.moderate", "risk_of_bias", "Judgements of moderate risk of bias", ROB),
    ("reporting.rob.high", "risk_of_bias", "Judgements of high risk of bias", ROB),
    ("reporting.rob.unclear", "risk_of_bias", "Judgements of unclear risk of bias", ROB),
    ("search.n_strategies", "search", "Stored database search strategies", SEARCH),
    ("search.n_runs", "search", "Runs of the stored strategies logged so far", SEARCH),
    ("search.found_total", "search", "Records returned by all runs of the stored strategies", SEARCH),
    ("search.new_total", "search", "Records new to screening from all runs", SEARCH),
    ("search.n_queued", "search", "Records waiting in the screening queue", SEARCH),
)
COUNT_WORDS = {
    "n_studies": "Arm-A studies reporting on {d}",
    "k": "Arm-A associations on {d}",
    "positive": "Arm-A studies on {d} whose evidence favoured a stronger alliance",
    "null": "Arm-A studies on {d} with no clear association",
    "negative": "Arm-A studies on {d} whose evidence pointed the other way",
    "mixed": "Arm-A studies on {d} with mixed findings",
}


@dataclass(frozen=True)
class Row:
    result_id: str
    group: str
    definition: str
    value: str
    analysis: str
    ci_lb: str = ""
    ci_ub: str = ""

    def as_dict(self, version: str) -> dict[str, str]:
        return {
            "result_id": self.result_id,
            "group": self.group,
            "definition": self.definition,
            "value": self.value,
            "ci_lb": self.ci_lb,
            "ci_ub": self.ci_ub,
            "version": version,
            "analysis": self.analysis,
        }


def _get(variables: Mapping[str, Any], key: str) -> Any:
    value: Any = variables
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _num(value: float | None, digits: int) -> str:
    if value is None:
        return ""
    text = f"{round(float(value), digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def result_rows(variables: Mapping[str, Any], headlines: list[Any]) -> list[Row]:
    """Every headline number as a row (see the module docstring for where each comes from)."""
    rows = [
        Row(key, group, definition, str(_get(variables, key)), analysis)
        for key, group, definition, analysis in CATALOGUE
        if _get(variables, key) is not None
    ]
    for prefix, what in (("pharm", "prescriber (pharmacotherapy)"), ("psych", "psychotherapy")):
        estimate, ci = _get(variables, f"context.{prefix}_estimate"), _get(variables, f"context.{prefix}_ci")
        if estimate is not None and ci is not None:
            lb, ub = (_num(float(x), R_DIGITS) for x in str(ci).split(" to "))
            rows.append(
                Row(
                    f"context.{prefix}_r",
                    "context",
                    f"Earlier pooled correlation of the {what} alliance with outcome, as published "
                    "(data/syntheses.csv), with its 95% CI",
                    _num(float(estimate), R_DIGITS),
                    "livingreview.book.variables.context_variables (data/syntheses.csv)",
                    lb,
                    ub,
                )
            )
    by_domain = {h.domain: h for h in headlines}
    for domain in DOMAINS:
        block = _get(variables, f"synthesis.{domain}") or {}
        for key, words in COUNT_WORDS.items():
            if key in block:
                rows.append(
                    Row(
                        f"synthesis.{domain}.{key}",
                        "synthesis",
                        words.format(d=domain),
                        str(block[key]),
                        SYNTHESIS,
                    )
                )
        h = by_domain.get(domain)
        if h is not None:
            rows.append(
                Row(
                    f"synthesis.{domain}.sign_p",
                    "synthesis",
                    f"Two-sided sign test p of positive against negative arm-A studies on {domain} "
                    "(empty when no study had a clear direction)",
                    _num(h.sign_p, P_DIGITS),
                    SYNTHESIS,
                )
            )
            rows.append(
                Row(
                    f"synthesis.{domain}.direction",
                    "synthesis",
                    f"Direction of the arm-A evidence on {domain} (positive, negative or none)",
                    h.direction,
                    SYNTHESIS,
                )
            )
            rows.append(
                Row(
                    f"synthesis.{domain}.significant",
                    "synthesis",
                    f"Whether the arm-A evidence on {domain} is statistically significant "
                    "(pooled CI excluding zero, else sign test p < 0.05)",
                    "yes" if h.significant else "no",
                    SYNTHESIS,
                )
            )
            if h.pooled_r is not None:
                rows.append(
                    Row(
                        f"synthesis.{domain}.pooled_r",
                        "synthesis",
                        f"Pooled correlation of alliance with {domain} in arm-A studies "
                        f"({h.pooled_k} studies), with its 95% CI",
                        _num(h.pooled_r, R_DIGITS),
                        POOLING,
                        _num(h.pooled_ci_lb, R_DIGITS),
                        _num(h.pooled_ci_ub, R_DIGITS),
                    )
                )
        rating = _get(variables, f"reporting.grade.{domain}")
        if rating is not None:
            rows.append(
                Row(
                    f"grade.{domain}",
                    "grade",
                    f"GRADE certainty of the arm-A evidence on {domain}",
                    str(rating),
                    GRADE,
                )
            )
    return rows


def schema() -> dict[str, Any]:
    text = {"type": "string"}
    number = {"type": "number"}
    fields = [
        {
            "name": "result_id",
            **text,
            "description": "Identifier of the result (stable across versions).",
            "constraints": {"required": True, "unique": True},
        },
        {"name": "group", **text, "description": "Kind of result.", "constraints": {"required": True}},
        {
            "name": "definition",
            **text,
            "description": "What the number is.",
            "constraints": {"required": True},
        },
        {
            "name": "value",
            **text,
            "description": "The value: a count, a p-value, a correlation or a rating "
            "(empty where it cannot be estimated).",
        },
        {
            "name": "ci_lb",
            **number,
            "description": "Lower bound of the 95% confidence interval, where one exists.",
        },
        {
            "name": "ci_ub",
            **number,
            "description": "Upper bound of the 95% confidence interval, where one exists.",
        },
        {
            "name": "version",
            **text,
            "description": "Version of the review (CITATION.cff) these results belong to.",
            "constraints": {"required": True},
        },
        {
            "name": "analysis",
            **text,
            "description": "The function (and notebook) that computed the value.",
            "constraints": {"required": True},
        },
    ]
    return {"fields": fields, "primaryKey": ["result_id"]}


def descriptor(version: str, title: str) -> dict[str, Any]:
    return {
        "name": "alliance-pharmacotherapy-review-results",
        "title": f"{title}: results of version {version}",
        "version": version,
        "description": "Every headline number of this version of the living review, one row each, with its "
        "definition and the analysis that made it. Written by `livingreview execute` from the dataset in "
        "data/; every release keeps a copy under releases/vX.Y.Z/results/.",
        "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}],
        "resources": [
            {
                "name": "results",
                "path": RESULTS_FILE,
                "profile": "tabular-data-resource",
                "format": "csv",
                "encoding": "utf-8",
                "schema": schema(),
            }
        ],
    }


def results_files(variables: Mapping[str, Any], headlines: list[Any]) -> dict[str, str]:
    """File name → text of the results package for ``variables`` (and the headline results)."""
    review = variables["review"]
    version = str(review["version"])
    label = str(
        _get(variables, "versions.current") or version
    )  # "X.Y.Z + unreleased changes" between releases
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(r.as_dict(label) for r in result_rows(variables, headlines))
    package = json.dumps(descriptor(version, str(review["title"])), indent=2, ensure_ascii=False) + "\n"
    return {RESULTS_FILE: out.getvalue(), "datapackage.json": package}


def write_results(directory: Path, files: Mapping[str, str]) -> bool:
    """Write the package into ``directory`` (each file renamed into place); return whether it changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = False
    for name, text in files.items():
        path = directory / name
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        tmp = path.with_name(f".{name}.tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        changed = True
    return changed


def read_results(state: Path) -> dict[str, dict[str, str]]:
    """Rows of ``state/results/results.csv`` by result_id (empty when the state has none)."""
    path = state / RESULTS_DIR / RESULTS_FILE
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["result_id"]: row for row in csv.DictReader(fh)}


def _shown(row: dict[str, str]) -> str:
    ci = f" ({row['ci_lb']} to {row['ci_ub']})" if row.get("ci_lb") or row.get("ci_ub") else ""
    return (row.get("value") or "not estimable") + ci


def diff_results(before: Path, after: Path) -> list[dict[str, str]]:
    """Results whose value (or CI) differs between two states: result_id, before, after."""
    old, new = read_results(before), read_results(after)
    out = []
    for ident in sorted(old.keys() | new.keys()):
        a, b = old.get(ident), new.get(ident)
        was = _shown(a) if a else "not reported"
        now = _shown(b) if b else "not reported"
        if was != now:
            out.append({"result_id": ident, "before": was, "after": now})
    return out


def project_results(root: Path, variables: Mapping[str, Any]) -> dict[str, str]:
    """The results package of the project at ``root`` for its computed ``variables``."""
    from livingreview.versions.compare import headline

    return results_files(variables, headline(root))


def results_report(before: str | None, changed: list[dict[str, str]]) -> str:
    """The what's-new section on the results data package (as of the last ``livingreview execute``)."""
    if before is None:
        return ""
    title = f"Results data package (results/) compared with version {before}"
    lines = ["", title, "-" * len(title)]
    if changed and all(c["before"] == "not reported" for c in changed):
        lines.append(f"version {before} has no results package (it predates results as data)")
        return "\n".join(lines) + "\n"
    if not changed:
        lines.append("no result changed")
    lines += [f"{c['result_id']}: {c['before']} → {c['after']}" for c in changed]
    return "\n".join(lines) + "\n"
